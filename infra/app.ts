import { App } from 'aws-cdk-lib';
import { OpenAiStatusStack, stackPropsFromContext } from './stack.js';

// Env-agnostic: no account/region lookups, so `cdk synth` works offline without credentials.
const app = new App();
new OpenAiStatusStack(app, 'OpenAiStatusStack', stackPropsFromContext(app.node));
app.synth();
