import { register } from 'node:module';
register('./stub-world.mjs', import.meta.url);
