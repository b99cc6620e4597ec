#!/bin/sh
# Installs what TestInteropOASISClient needs: Python 3 with the OASIS
# reference TAXII client (taxii2-client 2.3.0) and its dependencies.
#
# The dependencies come from Debian. taxii2-client itself is published only
# on PyPI; where PyPI cannot be reached, point XSOC_TAXII2CLIENT_PATH at a
# checkout of the client's source instead (the directory that contains the
# taxii2client package), and the test puts it on PYTHONPATH.
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
$SUDO apt-get install -y -q python3 python3-requests python3-six python3-tz
if ! python3 -c 'import taxii2client.v21' 2>/dev/null; then
	python3 -m pip install --user 'taxii2-client==2.3.0' ||
		echo "taxii2-client could not be installed from PyPI; set XSOC_TAXII2CLIENT_PATH to its source" >&2
fi
