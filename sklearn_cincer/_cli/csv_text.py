"""A CSV file's own text, kept byte for byte for ``sklearn-cincer clean``.

The cleaned file must differ from the input only in the labels that changed:
a table written back by pandas would turn ``181`` in a float column into
``181.0``, ``NA`` into an empty cell and CRLF into LF. So the command keeps
the file's text, finds where each record starts (a quoted field may hold
line breaks), and rewrites only the label field of the changed rows.
"""

import codecs
import csv
import io
import re
from array import array

# One physical line with its line break (CRLF, LF or a lone CR), or the last
# line without one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class CsvText:
    """The decoded text of a CSV file and where its records are.

    Parameters
    ----------
    data : bytes
        The file's content.
    sep : str
        The one-character field separator.

    Attributes
    ----------
    text : str
        The content without a UTF-8 byte order mark, line breaks as in the
        file.
    encoding : str
        ``"utf-8"``, or ``"latin-1"`` for a file that is not UTF-8 (which
        decodes any bytes and encodes them back unchanged).
    bom : bytes
        The byte order mark the file starts with (written back), or ``b""``.
    starts, ends : array of int
        Offsets in ``text`` of each record (the header first), without its
        line break; blank lines between records are not records, as for
        pandas.
    lines : array of int
        The line of the file (from 1) on which each record starts.
    """

    def __init__(self, data, sep):
        self.bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
        data = data[len(self.bom) :]
        try:
            self.text, self.encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            self.text, self.encoding = data.decode("latin-1"), "latin-1"
        self.sep = sep
        # arrays, not lists: 8 bytes a row each instead of about 36
        self.starts, self.ends, self.lines = array("q"), array("q"), array("q")
        self._locate()

    def _locate(self):
        in_quotes, number = False, 0
        for match in _LINE.finditer(self.text):
            number += 1
            line = match.group()
            content = line.rstrip("\r\n")
            if not in_quotes:
                if not content:
                    continue  # a blank line: pandas skips it
                self.starts.append(match.start())
                self.lines.append(number)
                self.ends.append(match.start() + len(content))
            else:
                self.ends[-1] = match.start() + len(content)
            # '""' inside a quoted field counts twice, so parity tells whether
            # the line ends inside quotes
            in_quotes ^= line.count('"') % 2 == 1

    def __len__(self):
        return len(self.starts)

    def record(self, k):
        """The text of record ``k`` (0 is the header), without its line break."""
        return self.text[self.starts[k] : self.ends[k]]

    def values(self, k):
        """The fields of record ``k`` as values (quotes taken off)."""
        rows = list(csv.reader(io.StringIO(self.record(k)), delimiter=self.sep))
        return rows[0] if rows else []

    def field_span(self, k, j):
        """``(start, end)`` offsets in ``text`` of field ``j`` of record ``k``."""
        start, end = self.starts[k], self.ends[k]
        sep = re.escape(self.sep)
        # a quoted field (with anything up to the separator after its closing
        # quote, as pandas reads it), or an unquoted one
        pattern = re.compile(rf'"(?:[^"]|"")*"[^{sep}]*|[^{sep}]*')
        pos = start
        for _ in range(j):
            pos = pattern.match(self.text, pos, end).end() + 1
        if pos > end:
            raise ValueError(f"Line {self.lines[k]} has fewer than {j + 1} fields.")
        return pos, pattern.match(self.text, pos, end).end()

    def field(self, k, j):
        """The text of field ``j`` of record ``k`` as written (quotes kept)."""
        start, end = self.field_span(k, j)
        return self.text[start:end]

    def with_fields(self, replacements):
        """The file's bytes with some fields replaced.

        Parameters
        ----------
        replacements : dict
            ``{(record, field): text}``; the text is written as given (quote
            it where needed, see :func:`quoted`).

        Returns
        -------
        data : bytes
            Everything else byte for byte as read, the byte order mark too.
        """
        spans = sorted(
            (self.field_span(k, j), text) for (k, j), text in replacements.items()
        )
        pieces, pos = [], 0
        for (start, end), text in spans:
            pieces += [self.text[pos:start], text]
            pos = end
        pieces.append(self.text[pos:])
        return self.bom + "".join(pieces).encode(self.encoding)


def quoted(value, sep):
    """``value`` as a CSV field: in double quotes when it needs them."""
    value = str(value)
    if any(c in value for c in (sep, '"', "\r", "\n")) or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value
