#!/usr/bin/env bash
# placeholder: fetches and converts the default models into .cache/models
exit 0
