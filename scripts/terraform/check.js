// Every .tf/.tfvars under DIR parses with HashiCorp's HCL parser (@cdktf/hcl2json,
// compiled to WASM) and is already what `terraform fmt` writes (@cdktf/hcl-tools
// format(): hclwrite's formatter). Prints each failure; exits 1 on any.
// Usage: node check.js DIR
const {format} = require('@cdktf/hcl-tools');
const {parse} = require('@cdktf/hcl2json');
const fs = require('fs'); const path = require('path');
function walk(d) { return fs.readdirSync(d, {withFileTypes: true}).flatMap(e => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]); }
(async () => {
  let bad = 0, n = 0;
  for (const f of walk(process.argv[2]).filter(f => /\.(tf|tfvars)$/.test(f)).sort()) {
    n++;
    const t = fs.readFileSync(f, 'utf8');
    try { await parse(f, t); } catch (e) { bad++; console.log(`PARSE ${f}: ${e.message}`); continue; }
    const g = await format(t);
    if (g !== t) { bad++; console.log(`FORMAT ${f}: not as terraform fmt writes it`); }
  }
  console.log(`terraform export: ${n} files parsed and formatted, ${bad} failing`);
  if (n === 0) { console.log('no file found'); process.exit(1); }
  process.exit(bad ? 1 : 0);
})();
