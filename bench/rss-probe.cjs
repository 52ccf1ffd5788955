'use strict';
// Memory probe for machines without GNU time: `node --require bench/rss-probe.cjs …` writes the
// process's peak RSS (KiB, from getrusage) to $SFAUTH_BENCH_RSS_OUT when it exits.
const out = process.env.SFAUTH_BENCH_RSS_OUT;
if (out) process.on('exit', () => require('fs').writeFileSync(out, String(process.resourceUsage().maxRSS)));
