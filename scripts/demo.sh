#!/usr/bin/env bash
# placeholder: the end-to-end demo
exit 0
