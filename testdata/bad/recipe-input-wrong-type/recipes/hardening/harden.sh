#!/bin/sh
set -eu
echo hardening
