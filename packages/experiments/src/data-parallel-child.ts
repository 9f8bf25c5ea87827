// Child process of `dataParallelRunner`: reads { request, size } on stdin, trains on worker threads, writes the runs as JSON.
import { runDataParallel, type DataParallelRequest } from './node';

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk as string;
const { request, size } = JSON.parse(input) as { request: DataParallelRequest; size: number };
process.stdout.write(JSON.stringify(await runDataParallel(request, size)));
