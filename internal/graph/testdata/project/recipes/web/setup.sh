#!/bin/sh
echo "listening on $PORT"
