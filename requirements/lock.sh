#!/bin/sh
# Regenerate the locked dependency sets from pyproject.toml, with every file's SHA-256.
#   sh requirements/lock.sh              # keep the pinned versions where pyproject allows
#   sh requirements/lock.sh --upgrade    # move every pin to the newest allowed release
# Needs uv (`python3 -m pip install uv`). The locks are universal: one file for every
# platform and Python >= 3.11, so a site on another OS or CPU installs the same versions.
set -eu
cd "$(dirname "$0")/.."
for set in runtime test; do
    extra=""
    [ "$set" = test ] && extra="--extra test"
    # shellcheck disable=SC2086 # $extra is one option or nothing
    uv pip compile pyproject.toml $extra --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "sh requirements/lock.sh" -q "$@" -o "requirements/$set.txt"
done
