#!/bin/sh
/opt/agent/register "$TOKEN"
