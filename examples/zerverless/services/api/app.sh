# One run per request: the body on stdin, the request in Http_* variables, the answer on stdout.
bytes=$(wc -c | tr -d ' ')
printf '{"message": "hello from my-app", "method": "%s", "path": "%s", "bytes": %s}\n' "$Http_Method" "$Http_Path" "$bytes"
