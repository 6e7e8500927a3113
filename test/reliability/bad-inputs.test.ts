import { BAD_INPUT_CASES } from '../integration/fixtures/bad-inputs.ts';
import { describeBadInputs } from '../support/bad-inputs.ts';
import { reliabilityProfile } from '../support/scorecard.ts';

// The whole bad-input corpus (issue 14), under `npm run test:reliability`. Its fast subset is not
// repeated here: `npm test` runs it in the integration suite, on every pinned Kubernetes version
// (test/integration/bad-inputs.test.ts).
if (reliabilityProfile() === 'full') describeBadInputs(BAD_INPUT_CASES, 'full');
