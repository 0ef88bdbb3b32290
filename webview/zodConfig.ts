/** zod compiles fast parsers with new Function(), which the panel's CSP forbids: parse without it. */
import { z } from 'zod';

z.config({ jitless: true });
