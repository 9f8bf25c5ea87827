// Typecheck-only (never run or shipped): the chaining methods are typed like the functional ops they call.
import { randn, type Tensor } from './index';

const x = randn([2, 3]);
const ok: Tensor = x.add(1).mul(x).sum([0], { keepdim: true }).reshape([1, 3]).transpose(0, 1).matmul(x).relu();
void ok;
// @ts-expect-error a string is neither a Tensor nor a number
x.add('1');
// @ts-expect-error reshape takes the shape as an array
x.reshape(6);
// @ts-expect-error keepdim is a boolean option
x.mean(0, { keepdim: 1 });
// @ts-expect-error variance's option is `unbiased`, not `correction`
x.variance(0, { correction: 0 });
// @ts-expect-error matmul takes a Tensor only
x.matmul(2);
// @ts-expect-error the result is a Tensor, not a number
const notNumber: number = x.sum();
void notNumber;
