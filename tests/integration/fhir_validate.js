// Validates a FHIR JSON file (a Bundle and each of its entries' resources) against the official
// FHIR R4 JSON schema, as shipped by @asymmetrik/fhir-json-schema-validator.
//   node fhir_validate.js MODULE_PREFIX FILE     (exit 0 valid, 1 invalid)
const [, , prefix, file] = process.argv;
const Validator = require(prefix + '/node_modules/@asymmetrik/fhir-json-schema-validator');
const validator = new Validator();
const bundle = JSON.parse(require('fs').readFileSync(file, 'utf8'));
let errors = validator.validate(bundle, true);
for (const entry of bundle.entry || []) errors = errors.concat(validator.validate(entry.resource, true));
if (errors.length) {
  console.log(JSON.stringify(errors.slice(0, 5), null, 1));
  process.exit(1);
}
console.log(`valid FHIR R4: ${bundle.resourceType} with ${(bundle.entry || []).length} entries`);
