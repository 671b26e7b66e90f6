#!/usr/bin/env node
// The `junction` command: Junction is TypeScript run through tsx (as `npm start` does), so this
// registers tsx's loader and hands over to gateway/cli.ts.
import { register } from 'tsx/esm/api';

register();
await import('../gateway/cli.ts');
