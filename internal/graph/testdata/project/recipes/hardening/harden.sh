#!/bin/sh
set -eu
echo "hardening at level $LEVEL"
