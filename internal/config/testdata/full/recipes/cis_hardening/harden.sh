#!/bin/sh
echo hardening level $CIS_LEVEL
