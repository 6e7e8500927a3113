import { describeBadInputs } from '../support/bad-inputs.ts';
import { BAD_INPUT_CASES } from './fixtures/bad-inputs.ts';

// The fast part of the bad-input corpus (issue 14), inside `npm test`; `npm run test:reliability`
// runs every case (test/reliability/bad-inputs.test.ts).
describeBadInputs(BAD_INPUT_CASES, 'fast');
