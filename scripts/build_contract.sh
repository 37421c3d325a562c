#!/usr/bin/env bash
# Rebuilds contracts/PositionLedger.json (ABI + creation bytecode) from contracts/PositionLedger.sol
# with the pinned solc-js compiler from npm (the same version as the pragma). Installs it into
# $ESCROWGRID_TOOLS (default /opt/escrowgrid-tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SOLC_VERSION=0.8.37
TOOLS="${ESCROWGRID_TOOLS:-/opt/escrowgrid-tools}"
if [ "$(node -p "try { require('$TOOLS/node_modules/solc/package.json').version } catch (e) { '' }")" != "$SOLC_VERSION" ]; then
  echo "build_contract: installing solc@$SOLC_VERSION into $TOOLS" >&2
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent "solc@$SOLC_VERSION"
fi
SOLC_MODULE="$TOOLS/node_modules/solc" node - <<'JS'
const fs = require("fs");
const solc = require(process.env.SOLC_MODULE);
const source = "contracts/PositionLedger.sol";
const input = {
  language: "Solidity",
  sources: { [source]: { content: fs.readFileSync(source, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const contract = output.contracts[source].PositionLedger;
const artifact = {
  contractName: "PositionLedger",
  compiler: `solc-js ${solc.version()}`,
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
fs.writeFileSync("contracts/PositionLedger.json", JSON.stringify(artifact, null, 2) + "\n");
console.error("build_contract: wrote contracts/PositionLedger.json");
JS
