#!/usr/bin/env python3
"""Writes a Lambda layer zip: layer_zip.py OUT.zip PATH_IN_ZIP=SOURCE...

Every file in a lambda-lens layer is executed (extension, launcher, wrapper), so each gets unix mode
0755 whatever its mode on disk; Lambda keeps the modes when it extracts the layer under /opt.
Entries carry a fixed timestamp so the same inputs give the same zip.
"""
import sys
import zipfile

STAMP = (1980, 1, 1, 0, 0, 0)


def entry(name, mode):
    info = zipfile.ZipInfo(name, STAMP)
    info.external_attr = mode << 16
    info.create_system = 3  # unix: the mode in external_attr is honoured on extraction
    return info


def main(out, pairs):
    files = dict(pair.split("=", 1) for pair in pairs)
    dirs = sorted({"/".join(name.split("/")[:i]) + "/" for name in files for i in range(1, name.count("/") + 1)})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for d in dirs:
            zf.writestr(entry(d, 0o40755), b"")
        for name, source in sorted(files.items()):
            info = entry(name, 0o100755)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(source, "rb") as f:
                zf.writestr(info, f.read())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
