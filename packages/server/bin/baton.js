#!/usr/bin/env node
// The `baton` command. A file in the source tree, so that npm can link it at install time,
// before the build has produced dist/.
import '../dist/cli.js';
