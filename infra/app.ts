import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OpenAiStatusStack, parseBoolean, stackPropsFromContext } from './stack.js';

// Env-agnostic: no account/region lookups, so `cdk synth` works offline without credentials.
const app = new App();
new OpenAiStatusStack(app, 'OpenAiStatusStack', stackPropsFromContext(app.node));
// cdk-nag's AwsSolutions pack on every synth and deploy: a finding without a reasoned
// acknowledgement stops it. `-c nag=false` skips the checks.
if (parseBoolean('nag', app.node.tryGetContext('nag')) ?? true) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
app.synth();
