#!/usr/bin/env bash
# Puts the storefront online: web/dist and its runtime configuration (/config.js) into the
# stack's StorefrontBucket, then a CloudFront invalidation of what must not be served stale.
# `make deploy` runs it after `sam deploy`; `make deploy-ui` rebuilds web/ and runs it alone.
#
#   STACK_NAME   the stack (default: stack_name in samconfig.toml, else "burst")
#   AWS_REGION   its region (default: region in samconfig.toml, else the AWS CLI's own)
#
# Everything it needs comes from the stack's outputs (aws cloudformation describe-stacks):
# StorefrontBucket, DistributionId, StorefrontUrl, WebSocketUrl, CognitoDomain, UserPoolClientId.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# What to upload: web/dist unless WEB_DIST names another build.
DIST="${WEB_DIST:-$ROOT/web/dist}"

if ! command -v aws >/dev/null; then
  cat >&2 <<'EOF'
deploy-ui: the AWS CLI ('aws') is not installed. `sam deploy` does not need it, but this upload
does (aws cloudformation describe-stacks, aws s3 sync/cp, aws cloudfront create-invalidation).
Install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html),
then run `make deploy-ui`: the stack itself is deployed already.
EOF
  exit 1
fi
[[ -f "$DIST/index.html" ]] || { echo "deploy-ui: no web/dist/index.html: run scripts/web.sh build (make build) first" >&2; exit 1; }

# What `sam deploy --guided` saved, unless the environment says otherwise.
samconfig() {
  [[ -f "$ROOT/samconfig.toml" ]] || return 0
  python3 - "$ROOT/samconfig.toml" "$1" <<'EOF' 2>/dev/null || true
import sys, tomllib
config = tomllib.load(open(sys.argv[1], "rb")).get("default", {})
for section in ("deploy", "global"):
    value = config.get(section, {}).get("parameters", {}).get(sys.argv[2])
    if value:
        print(value)
        break
EOF
}
STACK_NAME=${STACK_NAME:-$(samconfig stack_name)}
STACK_NAME=${STACK_NAME:-burst}
REGION=${AWS_REGION:-$(samconfig region)}
REGION=${REGION:-$(aws configure get region 2>/dev/null || true)}
[[ -n "$REGION" ]] || { echo "deploy-ui: no region: set AWS_REGION" >&2; exit 1; }
aws_() { aws --region "$REGION" "$@"; }

echo "deploy-ui: stack $STACK_NAME in $REGION"
stack=$(aws_ cloudformation describe-stacks --stack-name "$STACK_NAME" --output json)

# The outputs as shell assignments, and config.js from them.
config_js="$TOOLS/deploy-ui/config.js"
mkdir -p "$(dirname "$config_js")"
assignments=$(STACK_JSON="$stack" python3 - "$config_js" <<'EOF'
import json, os, shlex, sys
stack = json.loads(os.environ["STACK_JSON"])["Stacks"][0]
outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
needed = ["StorefrontBucket", "DistributionId", "StorefrontUrl", "WebSocketUrl", "CognitoDomain", "UserPoolClientId"]
missing = [name for name in needed if not outputs.get(name)]
if missing:
    sys.exit(f"deploy-ui: the stack has no output {', '.join(missing)}: deploy this template.yaml first (make deploy)")
url = outputs["StorefrontUrl"]
config = {
    # The API is served by the same distribution as the page (template.yaml, Distribution).
    "api": "",
    "ws": outputs["WebSocketUrl"],
    "cognito": {
        "domain": outputs["CognitoDomain"],
        "clientId": outputs["UserPoolClientId"],
        "redirectUri": url,
        "logoutUri": url,
        "scopes": ["openid", "email", "profile"],
    },
}
with open(sys.argv[1], "w") as out:
    out.write("// Written by scripts/deploy-ui.sh from the stack's outputs.\n")
    out.write(f"window.BURST_CONFIG = {json.dumps(config, indent=2)};\n")
for name, value in (
    ("bucket", outputs["StorefrontBucket"]),
    ("distribution", outputs["DistributionId"]),
    ("storefront_url", url),
    ("checkout_return_url", parameters.get("CheckoutReturnUrl", "")),
):
    print(f"{name}={shlex.quote(value)}")
EOF
)
eval "$assignments"

# Hashed assets first and for good (a name never changes content), then config.js, then
# index.html last, so that no page names an asset that is not there yet. Old assets stay: an
# open tab may still load the route chunks of the build it started with.
echo "deploy-ui: uploading ${DIST#"$ROOT"/} to s3://$bucket"
aws_ s3 sync "$DIST/assets" "s3://$bucket/assets" --only-show-errors \
  --cache-control "public, max-age=31536000, immutable"
aws_ s3 sync "$DIST" "s3://$bucket" --only-show-errors \
  --exclude "assets/*" --exclude "index.html" --exclude ".digest" --cache-control "no-cache"
aws_ s3 cp "$config_js" "s3://$bucket/config.js" --only-show-errors \
  --cache-control "no-cache" --content-type "text/javascript; charset=utf-8"
aws_ s3 cp "$DIST/index.html" "s3://$bucket/index.html" --only-show-errors \
  --cache-control "no-cache" --content-type "text/html; charset=utf-8"

invalidation=$(aws_ cloudfront create-invalidation --distribution-id "$distribution" \
  --paths /index.html /config.js --query Invalidation.Id --output text)
echo "deploy-ui: invalidation $invalidation of /index.html and /config.js on $distribution"
echo "deploy-ui: the storefront is at $storefront_url"

if [[ "${checkout_return_url%/}" != "${storefront_url%/}" ]]; then
  cat >&2 <<EOF
deploy-ui: note: CheckoutReturnUrl is '$checkout_return_url', so Stripe Checkout returns shoppers
there, not to the storefront. Unless that is your own domain, deploy again with
CheckoutReturnUrl=$storefront_url (sam deploy --guided, or parameter_overrides in samconfig.toml).
EOF
fi
