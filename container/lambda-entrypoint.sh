#!/bin/sh
# Entry point of the lambda-gpu image (container/Dockerfile). Lambda starts the image's entry point with its
# command (the image's CMD, or the function's ImageConfig.Command) as arguments: the handler, as
# <module>.<export> under the task root. The runtime interface client (aws-lambda-ric 4) reads it from
# _HANDLER, as AWS's own base images pass it, and loads it from LAMBDA_TASK_ROOT.
set -eu
if [ "$#" -ne 1 ]; then
  echo "lambda-entrypoint: expected one argument, the handler (e.g. dist/handlers/s3-upload.handler)" >&2
  exit 142
fi
export _HANDLER="$1"
# The code is where the gpu target puts it, /app, not in Lambda's usual /var/task.
export LAMBDA_TASK_ROOT=/app
exec /usr/local/bin/node /opt/aws-lambda-ric/node_modules/aws-lambda-ric/index.mjs
