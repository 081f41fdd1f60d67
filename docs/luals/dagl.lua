---@meta dagl
-- LuaLS annotations for dagl (https://luals.github.io/wiki/annotations/). Not loaded at run
-- time: point the language server at this directory ("workspace.library" in .luarc.json).
-- docs/lua_api.md is the reference; spec/docs_spec.lua checks that every module function and
-- tensor method is declared here.

---@alias dagl.dtype "float32"|"float64"|"int64"|"uint8"|"f32"|"f64"|"i64"|"u8"|"float"|"double"|"long"|"byte"
---@alias dagl.dims integer|integer[] one 1-based dim (negative from the end) or a list of dims
---@alias dagl.operand dagl.Tensor|number

---A tensor: a view of refcounted storage with a dtype, shape and strides. Indexing `t[i]` is
---1-based on the first dim (a number for 1-d tensors, else a view of row i).
---@class dagl.Tensor
---@field shape integer[] the shape (a new table on each access)
---@operator add(dagl.operand): dagl.Tensor
---@operator sub(dagl.operand): dagl.Tensor
---@operator mul(dagl.operand): dagl.Tensor
---@operator div(dagl.operand): dagl.Tensor
---@operator pow(dagl.operand): dagl.Tensor
---@operator unm: dagl.Tensor
---@operator len: integer
---@operator index(integer): dagl.Tensor|number
local Tensor = {}

---A symbolic tensor inside a dagl.fn / dagl.grad trace (same math and layout methods).
---@class dagl.Symbol: dagl.Tensor

---A graph built node by node (dagl.graph()); node ids are 0-based handles.
---@class dagl.Graph
local Graph = {}

---@class dagl.Fn
---@field traces integer number of traces so far (signatures, and retraces for rebound captures)
---@field retraces integer retraces caused by rebound captured values
---@overload fun(...: dagl.Tensor): ...: dagl.Tensor
local Fn = {}

---@class dagl.LuaOp
---@field name string
---@overload fun(...: dagl.Tensor): dagl.Tensor
local LuaOp = {}

---@class dagl.TraceStats
---@field wall number
---@field work number
---@field parallelism number
---@field critical_path number
---@field dag_width number
---@field nodes number
---@field workers_used number
---@field lock_hold number
---@field lock_wait number
---@field lock_serialized_fraction number
---@field lock_waits number
---@field steals number
---@field inline_runs number
---@field shares number
---@field lock_handoffs number
---@field summary string

---@class dagl.LockStats
---@field hold number
---@field wait number
---@field acquisitions integer
---@field contended integer
---@field parked integer

---@class dagl
local dagl = {}

---@type string
dagl._VERSION = "0.1.0"
---The tensor metatable.
---@type table
dagl.Tensor = {}
dagl.float32 = "float32"
dagl.float64 = "float64"
dagl.int64 = "int64"
dagl.uint8 = "uint8"
---@type dagl.nn
dagl.nn = {}
---@type dagl.data
dagl.data = {}
---@type dagl.ffi
dagl.ffi = {}
---@type dagl.onnx
dagl.onnx = {}

---Data-parallel collectives on MPI (docs/lua_api.md, "dagl.dist").
---@class dagl.dist
---@field init fun(opts?: {timeout?: number}): dagl.dist
---@field rank fun(): integer
---@field size fun(): integer
---@field is_mpi fun(): boolean
---@field barrier fun()
---@field allreduce fun(t: dagl.Tensor, opts?: {op?: "sum"|"mean"|"max", inplace?: boolean}): dagl.Tensor
---@field broadcast fun(t: dagl.Tensor, root?: integer|{root?: integer, inplace?: boolean}): dagl.Tensor
---@field allgather fun(t: dagl.Tensor): dagl.Tensor
---@field reduce_scatter fun(t: dagl.Tensor, opts?: {op?: "sum"|"mean"|"max"}): dagl.Tensor
---@field allreduce_grads fun(grads: dagl.Tensor[], opts?: {op?: "mean"|"sum", bucket_bytes?: integer}): dagl.Tensor[]
---@field close fun()
---@type dagl.dist
dagl.dist = {}

-- ---------------------------------------------------------------- module

---@return string version
---@return string blas_core
function dagl.version() end
---@param x any
---@return boolean
function dagl.is_tensor(x) end
---@param x any
---@return boolean
function dagl.is_symbol(x) end
---@return integer
function dagl.live_bytes() end
---@param seed integer
function dagl.manual_seed(seed) end
---@return number seconds
function dagl.wall_time() end

-- ---------------------------------------------------------------- creation

---@param ... integer|integer[]|dagl.dtype shape (numbers or one table), then an optional dtype
---@return dagl.Tensor
function dagl.zeros(...) end
---@param ... integer|integer[]|dagl.dtype
---@return dagl.Tensor
function dagl.ones(...) end
---@param ... integer|integer[]|dagl.dtype
---@return dagl.Tensor
function dagl.empty(...) end
---@param shape integer[]
---@param value number
---@param dtype? dagl.dtype
---@return dagl.Tensor
function dagl.full(shape, value, dtype) end
---@param data number|table nested tables of numbers
---@param dtype? dagl.dtype
---@return dagl.Tensor
function dagl.tensor(data, dtype) end
---@param start number stop when it is the only number
---@param stop? number excluded
---@param step? number
---@param dtype? dagl.dtype
---@return dagl.Tensor
function dagl.arange(start, stop, step, dtype) end
---@param a number
---@param b number
---@param n integer
---@param dtype? dagl.dtype
---@return dagl.Tensor
function dagl.linspace(a, b, n, dtype) end
---@param ... integer|integer[]|dagl.dtype
---@return dagl.Tensor
function dagl.rand(...) end
---@param ... integer|integer[]|dagl.dtype
---@return dagl.Tensor
function dagl.randn(...) end

-- ---------------------------------------------------------------- math (module forms)

---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.neg(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.exp(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.log(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.sqrt(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.abs(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.tanh(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.sigmoid(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.relu(t) end
---The error function.
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.erf(t) end
---The sine (radians).
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.sin(t) end
---The cosine (radians).
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.cos(t) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.add(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.sub(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.mul(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.div(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.pow(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.maximum(a, b) end
---Floor division (`a // b`): rounded down; int64 stays int64 and raises on a zero divisor.
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.floor_divide(a, b) end
---The remainder of floor division (`a % b`), with the divisor's sign.
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.remainder(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.minimum(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.eq(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.ne(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.lt(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.le(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.gt(a, b) end
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.ge(a, b) end
---@param t dagl.Tensor
---@param lo? number
---@param hi? number
---@return dagl.Tensor
function dagl.clamp(t, lo, hi) end
---@param cond dagl.Tensor
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function dagl.where(cond, a, b) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function dagl.sum(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function dagl.mean(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function dagl.max(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function dagl.min(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor int64, 1-based
function dagl.argmax(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor int64, 1-based
function dagl.argmin(t, dims, keepdim) end
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean
---@param correction? integer default 1 (unbiased)
---@return dagl.Tensor
function dagl.var(t, dims, keepdim, correction) end
---The standard deviation: the square root of dagl.var (the same arguments).
---@param t dagl.Tensor
---@param dims? dagl.dims
---@param keepdim? boolean|table keepdim, or the options {keepdim =, correction =}
---@param correction? integer default 1 (unbiased)
---@return dagl.Tensor
function dagl.std(t, dims, keepdim, correction) end
---Running sums along dim (from the end with reverse = true).
---@param t dagl.Tensor
---@param dim integer
---@param opts? {reverse?: boolean}
---@return dagl.Tensor
function dagl.cumsum(t, dim, opts) end
---1-based positions of a stable sort along dim (NaN the largest).
---@param t dagl.Tensor
---@param dim? integer default -1
---@param descending? boolean|{descending?: boolean, stable?: boolean}
---@return dagl.Tensor int64
function dagl.argsort(t, dim, descending) end
---Sorted values and their 1-based indices along dim (torch.sort).
---@param t dagl.Tensor
---@param dim? integer default -1
---@param descending? boolean|{descending?: boolean, stable?: boolean}
---@return dagl.Tensor values
---@return dagl.Tensor indices
function dagl.sort(t, dim, descending) end
---The k largest (or smallest) values along dim and their 1-based indices (torch.topk).
---@param t dagl.Tensor
---@param k integer
---@param dim? integer|{dim?: integer, largest?: boolean, sorted?: boolean}
---@param largest? boolean default true
---@param sorted? boolean default true
---@return dagl.Tensor values
---@return dagl.Tensor indices
function dagl.topk(t, k, dim, largest, sorted) end
---Elements of t at 1-based indices idx (t's rank) along dim (torch.gather).
---@param t dagl.Tensor
---@param dim integer
---@param idx dagl.Tensor int64
---@return dagl.Tensor
function dagl.gather(t, dim, idx) end
---t with src added at 1-based indices idx along dim (torch.scatter_add), a new tensor.
---@param t dagl.Tensor
---@param dim integer
---@param idx dagl.Tensor int64
---@param src dagl.Tensor
---@return dagl.Tensor
function dagl.scatter_add(t, dim, idx, src) end
---@param t dagl.Tensor
---@param dim? integer default -1 (the last)
---@return dagl.Tensor
function dagl.softmax(t, dim) end
---@param t dagl.Tensor
---@param dim? integer default -1 (the last)
---@return dagl.Tensor
function dagl.log_softmax(t, dim) end
---@param a dagl.Tensor
---@param b dagl.Tensor
---@return dagl.Tensor
function dagl.matmul(a, b) end

-- ---------------------------------------------------------------- convolution and pooling (NHWC)

---@alias dagl.pair integer|{[1]: integer, [2]: integer} n (for {n, n}) or {rows, cols}
---@alias dagl.padding "valid"|"same"

---@class dagl.WindowOptions
---@field pool_size? dagl.pair pooling only; default 2
---@field strides? dagl.pair default 1 for conv2d, pool_size for pooling
---@field padding? dagl.padding default "valid"

---x (N, H, W, Cin) correlated with kernel k (KH, KW, Cin, Cout) -> (N, OH, OW, Cout).
---@param x dagl.Tensor
---@param k dagl.Tensor
---@param opts? {strides?: dagl.pair, padding?: dagl.padding}
---@return dagl.Tensor
function dagl.conv2d(x, k, opts) end
---The transposed convolution (conv2d's input gradient as an op; PyTorch's conv_transpose2d).
---@param x dagl.Tensor images (N, H, W, Cin)
---@param k dagl.Tensor kernel (KH, KW, filters, Cin)
---@param opts? {strides?: dagl.pair, padding?: dagl.padding, output_padding?: dagl.pair}
---@return dagl.Tensor
function dagl.conv2d_transpose(x, k, opts) end
---@param x dagl.Tensor
---@param opts? dagl.WindowOptions|integer a number is the pool size
---@return dagl.Tensor
function dagl.max_pool2d(x, opts) end
---@param x dagl.Tensor
---@param opts? dagl.WindowOptions|integer a number is the pool size
---@return dagl.Tensor
function dagl.avg_pool2d(x, opts) end

-- ---------------------------------------------------------------- joins, indexing, dropout masks

---Joins tensors (or symbols) along dim (1-based, negative from the end).
---@param list dagl.Tensor[]
---@param dim? integer default 1
---@return dagl.Tensor
function dagl.concat(list, dim) end
---dagl.concat under PyTorch's name.
---@param list dagl.Tensor[]
---@param dim? integer default 1
---@return dagl.Tensor
function dagl.cat(list, dim) end
---Joins tensors of equal shapes along a new dim (torch.stack).
---@param list dagl.Tensor[]
---@param dim? integer default 1 (1 to ndim + 1, negative from the end)
---@return dagl.Tensor
function dagl.stack(list, dim) end
---Views of consecutive pieces along dim: size long each, or the sizes given (torch.split).
---@param t dagl.Tensor
---@param size integer|integer[]
---@param dim? integer default 1
---@return dagl.Tensor[]
function dagl.split(t, size, dim) end
---n pieces of ceil(size / n) along dim (torch.chunk).
---@param t dagl.Tensor
---@param n integer
---@param dim? integer default 1
---@return dagl.Tensor[]
function dagl.chunk(t, n, dim) end
---The lower triangle of the last two dims (j - i <= diagonal), zeros above.
---@param t dagl.Tensor
---@param diagonal? integer default 0
---@return dagl.Tensor
function dagl.tril(t, diagonal) end
---The upper triangle of the last two dims (j - i >= diagonal), zeros below.
---@param t dagl.Tensor
---@param diagonal? integer default 0
---@return dagl.Tensor
function dagl.triu(t, diagonal) end
---Einstein summation as torch.einsum ("ij,jk->ik", "bhqd,bhkd->bhqk", "...ij,...jk->...ik").
---@param equation string
---@param ... dagl.Tensor operands (or one list of them)
---@return dagl.Tensor
function dagl.einsum(equation, ...) end
---Rows of table by int64 ids counting from 0; shape ids.shape .. table.shape[2:].
---@param table dagl.Tensor
---@param ids dagl.Tensor int64
---@return dagl.Tensor
function dagl.embedding(table, ids) end
---The op list: {name=, class=, dtype=, lua=} per op, in enum order.
---@return table[]
function dagl.ops() end
---t[i] as a function: a number for 1-d tensors, else row i (symbols too).
---@param t dagl.Tensor
---@param i integer
---@return dagl.Tensor|number
function dagl.index(t, i) end
---Internal to dagl.fn: the symbols' metatable and the function adding a node to a trace.
---@param mt table
---@param emit function
function dagl.set_symbol_class(mt, emit) end
---Slices of t along dim at int64 indices counting from 1 (idx 1-D unless dim is 1).
---@param t dagl.Tensor
---@param dim integer
---@param idx dagl.Tensor int64
---@return dagl.Tensor
function dagl.index_select(t, dim, idx) end
---A zero table of `rows` rows with the rows of src added at idx (ids from base); embedding's gradient.
---@param src dagl.Tensor
---@param idx dagl.Tensor int64
---@param rows integer
---@param base? integer default 0
---@return dagl.Tensor
function dagl.index_add(src, idx, rows, base) end
---A mask shaped like `like`: 1/(1-rate) with probability 1-rate, else 0; a pure function of (seed, counter).
---@param like dagl.Tensor
---@param rate number
---@param seed integer
---@param counter? integer default 0
---@return dagl.Tensor
function dagl.dropout_mask(like, rate, seed, counter) end

-- ---------------------------------------------------------------- files

---@param path string
---@return table<string, dagl.Tensor> tensors
---@return table<string, string> metadata
function dagl.load_safetensors(path) end
---@param path string
---@param tensors table<string, dagl.Tensor>
---@param metadata? table<string, string|number>
function dagl.save_safetensors(path, tensors, metadata) end
---@param path string
---@return dagl.Tensor
function dagl.load_npy(path) end
---@param path string
---@param t dagl.Tensor
function dagl.save_npy(path, t) end
---@param path string
---@return table<string, dagl.Tensor>
function dagl.load_npz(path) end
---The C half of dagl.onnx.load: a loaded ONNX model value (use dagl.onnx.load).
---@param path string
---@return userdata
function dagl.onnx_load(path) end
---The C half of dagl.onnx.save: a graph value (a fresh trace) written as an ONNX model.
---@param graph userdata
---@param path string
function dagl.onnx_save(graph, path) end
---A TensorProto file as a tensor (dagl.onnx.read_tensor).
---@param path string
---@return dagl.Tensor
function dagl.onnx_read_tensor(path) end
---Writes a tensor as a TensorProto file (dagl.onnx.write_tensor).
---@param t dagl.Tensor
---@param path string
function dagl.onnx_write_tensor(t, path) end
---An IDX file (MNIST's format), gzipped or not (dagl.data.read_idx).
---@param path string
---@return dagl.Tensor
function dagl.read_idx(path) end
---@class dagl.CsvOptions
---@field delimiter? string one character (default ",")
---@field sep? string pandas' spelling of delimiter
---@field header? boolean the first non-blank line holds the column names (default false)

---A numeric CSV file as float32 (rows, cols), and the column names with header = true.
---Unknown options and wrong values raise.
---@param path string
---@param opts? dagl.CsvOptions
---@return dagl.Tensor
---@return string[]? names
function dagl.read_csv(path, opts) end

---A background row copy started by dagl.gather_rows_async.
---@class dagl.Gather
local Gather = {}
---@return dagl.Tensor
function Gather:wait() end
function Gather:close() end

---Starts copying rows index[first..last] (1-based row numbers) of x on a background thread.
---@param x dagl.Tensor
---@param index integer[]
---@param first? integer default 1
---@param last? integer default #index
---@return dagl.Gather
function dagl.gather_rows_async(x, index, first, last) end

-- ---------------------------------------------------------------- dist internals (use dagl.dist)

---The MPI world's handle behind dagl.dist (joined on the first call).
---@param timeout? number seconds
---@return userdata
function dagl.dist_world(timeout) end
---Whether dagl was built with MPI.
---@return boolean
function dagl.dist_have_mpi() end
---The world size an MPI launcher announced (0: none).
---@return integer
function dagl.dist_launched() end

-- ---------------------------------------------------------------- ffi internals (use dagl.ffi)

---The C function behind dagl.ffi.load.
---@param path? string
---@return dagl.ffi.Lib
function dagl.ffi_load(path) end
---The kernel handle behind dagl.ffi.kernel.
---@param spec table
---@return userdata
function dagl.ffi_kernel_new(spec) end
---An eager kernel call, used by dagl.ffi.kernel.
---@param handle userdata
---@param shape integer[]
---@param ... dagl.Tensor
---@return dagl.Tensor
function dagl.ffi_kernel_call(handle, shape, ...) end

-- ---------------------------------------------------------------- views and copies (module forms)

---@param t dagl.Tensor
---@param ... integer|integer[]
---@return dagl.Tensor
function dagl.reshape(t, ...) end
---@param t dagl.Tensor
---@param ... integer|integer[]
---@return dagl.Tensor
function dagl.view(t, ...) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.flatten(t) end
---@param t dagl.Tensor
---@param d1? integer
---@param d2? integer
---@return dagl.Tensor
function dagl.transpose(t, d1, d2) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.t(t) end
---@param t dagl.Tensor
---@param ... integer|integer[]
---@return dagl.Tensor
function dagl.permute(t, ...) end
---@param t dagl.Tensor
---@param dim integer
---@param first? integer
---@param last? integer inclusive
---@param step? integer
---@return dagl.Tensor
function dagl.slice(t, dim, first, last, step) end
---@param t dagl.Tensor
---@param dim integer
---@param first integer
---@param length integer
---@return dagl.Tensor
function dagl.narrow(t, dim, first, length) end
---@param t dagl.Tensor
---@param dim integer
---@param i integer
---@return dagl.Tensor
function dagl.select(t, dim, i) end
---@param t dagl.Tensor
---@param dim? integer
---@return dagl.Tensor
function dagl.squeeze(t, dim) end
---@param t dagl.Tensor
---@param dim integer
---@return dagl.Tensor
function dagl.unsqueeze(t, dim) end
---@param t dagl.Tensor
---@param ... integer|integer[]
---@return dagl.Tensor
function dagl.expand(t, ...) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.contiguous(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.clone(t) end
---@param t dagl.Tensor
---@param dtype dagl.dtype
---@param scale? number the values times this, in the same pass (x:float(1/255) scales uint8 images)
---@return dagl.Tensor
function dagl.to(t, dtype, scale) end
---@param t dagl.Tensor
---@param scale? number
---@return dagl.Tensor
function dagl.float(t, scale) end
---@param t dagl.Tensor
---@param scale? number
---@return dagl.Tensor
function dagl.double(t, scale) end
---@param t dagl.Tensor
---@param scale? number
---@return dagl.Tensor
function dagl.long(t, scale) end
---Converted to uint8 (rounded toward zero, saturated to 0..255, NaN 0).
---@param t dagl.Tensor
---@param scale? number
---@return dagl.Tensor
function dagl.byte(t, scale) end
---@param t dagl.Tensor
---@param v number
---@return dagl.Tensor t
function dagl.fill(t, v) end
---@param t dagl.Tensor
---@param src dagl.Tensor
---@return dagl.Tensor t
function dagl.copy(t, src) end
---@param t dagl.Tensor
---@param x dagl.Tensor
---@param alpha? number
---@return dagl.Tensor t
function dagl.add_(t, x, alpha) end
---Writes v into t in place (same shape, converted to t's dtype); with a traced v, an assign node.
---@param t dagl.Tensor
---@param v dagl.Tensor|dagl.Symbol
---@return dagl.Tensor|dagl.Symbol t
function dagl.assign(t, v) end

-- ---------------------------------------------------------------- inspection (module forms)

---@param t dagl.Tensor
---@param dim? integer
---@return integer[]|integer
function dagl.size(t, dim) end
---@param t dagl.Tensor
---@return integer[]
function dagl.stride(t) end
---@param t dagl.Tensor
---@return integer
function dagl.dim(t) end
---@param t dagl.Tensor
---@return integer
function dagl.numel(t) end
---@param t dagl.Tensor
---@return string
function dagl.dtype(t) end
---@param t dagl.Tensor
---@return boolean
function dagl.is_contiguous(t) end
---@param t dagl.Tensor
---@return integer
function dagl.storage_offset(t) end
---@param t dagl.Tensor
---@return number
function dagl.item(t) end
---@param t dagl.Tensor
---@return table|number
function dagl.totable(t) end
---@param t dagl.Tensor
function dagl.close(t) end

-- ---------------------------------------------------------------- graphs

---No options: a second argument raises.
---@param f fun(...: dagl.Symbol): ...
---@return dagl.Fn
function dagl.fn(f) end
---@class dagl.GradOptions
---@field wrt? dagl.Tensor|dagl.Tensor[] tensors (weights) to differentiate with respect to
---@field argnums? integer|integer[] 1-based arguments to differentiate with respect to (default: all; {} for none)

---Returns a callable giving f's value, then the gradients (arguments, then wrt tensors).
---The options are checked at the call (unknown keys and wrong types raise).
---@param f fun(...: dagl.Symbol): dagl.Symbol
---@param opts? dagl.GradOptions
---@return dagl.Fn
function dagl.grad(f, opts) end
---@generic T
---@param x dagl.Symbol
---@param name string
---@param body fun(): T
---@return T
function dagl.label(x, name, body) end
---@class dagl.LuaOpSpec
---@field forward fun(...: dagl.Tensor): dagl.Tensor
---@field backward? fun(grad: dagl.Tensor, ...: dagl.Tensor): ...: dagl.Tensor
---@field name? string
---@field shape? integer[]|fun(...: integer[]): integer[]
---@field dtype? "float32"|"float64"|"int64"
---@field module? string per-worker states load forward and backward from require(module)
---@field fn? string forward's name in module (default "forward")
---@field backward_fn? string backward's name in module (default "backward")

---The options are checked at the call (unknown keys and wrong types raise).
---@param spec dagl.LuaOpSpec
---@return dagl.LuaOp
function dagl.luaop(spec) end
---@param spec dagl.LuaOpSpec
---@param k? integer the node runs backward and keeps its k-th result (the gradient of input k)
---@return userdata handle for g:custom
function dagl.luaop_new(spec, k) end
---The guard snapshot behind dagl.fn: f's upvalues (tables excepted) and those of the Lua
---functions they hold, `depth` levels of functions deep (default 4), at most 256.
---@param f function
---@param depth? integer
---@return userdata snapshot
---@return integer count upvalues guarded
function dagl.capture_snapshot(f, depth) end
---nil when every upvalue of the snapshot holds the value seen, else the first changed one's name
---and the function holding it.
---@param snapshot userdata
---@return string? name
---@return function? holder
function dagl.capture_changed(snapshot) end
---@return dagl.Graph
function dagl.graph() end

---@class dagl.TraceOptions
---@field json? string
---@field svg? string
---@field print? boolean

---The options are checked at the call, before body runs; dagl.trace(body) takes none.
---@param opts dagl.TraceOptions|fun(): ...
---@param body? fun(): ...
---@return dagl.TraceStats stats
---@return ...
function dagl.trace(opts, body) end
function dagl.trace_start() end
---@param opts? dagl.TraceOptions
---@return dagl.TraceStats
function dagl.trace_stop(opts) end
---@return boolean
function dagl.tracing() end

-- ---------------------------------------------------------------- threads and the VM lock

---Worker threads (inter, 0 = one per core), and with {intra = k} how many may work on one
---kernel at once (0 = all); both 0 to 4096. set_threads(n, {intra = k}) sets both. Unknown keys,
---wrong types and values out of range raise, changing nothing.
---@param n integer|{inter?: integer, intra?: integer}
---@param opts? {intra?: integer}
function dagl.set_threads(n, opts) end
---@return integer inter
---@return integer intra
function dagl.num_threads() end
---@param on boolean
---@return boolean previous
function dagl.set_check_numerics(on) end
---@param on boolean
---@return boolean previous
function dagl.set_memory_plan(on) end
---@param mode "global"|"per-worker"
function dagl.set_lock_mode(mode) end
---@return "global"|"per-worker"
function dagl.get_lock_mode() end
---Sleeps without the VM lock; Ctrl-C ends it with the error "interrupted".
---@param seconds number
function dagl.sleep(seconds) end
---Whether err is the error Ctrl-C raises ("interrupted" or "<file>:<line>: interrupted").
---@param err any
---@return boolean
function dagl.is_interrupt(err) end
---@param seconds number
function dagl.spin(seconds) end
---@param seconds number
function dagl.set_switch_interval(seconds) end
---@return number
function dagl.get_switch_interval() end
---@param reset? boolean
---@return dagl.LockStats
function dagl.lock_stats(reset) end

-- ---------------------------------------------------------------- tensor methods

---@return dagl.Tensor
function Tensor:neg() end
---@return dagl.Tensor
function Tensor:exp() end
---@return dagl.Tensor
function Tensor:log() end
---@return dagl.Tensor
function Tensor:sqrt() end
---@return dagl.Tensor
function Tensor:abs() end
---@return dagl.Tensor
function Tensor:tanh() end
---@return dagl.Tensor
function Tensor:sigmoid() end
---@return dagl.Tensor
function Tensor:relu() end
---@return dagl.Tensor
function Tensor:erf() end
---@return dagl.Tensor
function Tensor:sin() end
---@return dagl.Tensor
function Tensor:cos() end
---@param k dagl.Tensor kernel (KH, KW, Cin, Cout)
---@param opts? {strides?: dagl.pair, padding?: dagl.padding}
---@return dagl.Tensor
function Tensor:conv2d(k, opts) end
---@param k dagl.Tensor kernel (KH, KW, filters, Cin)
---@param opts? {strides?: dagl.pair, padding?: dagl.padding, output_padding?: dagl.pair}
---@return dagl.Tensor
function Tensor:conv2d_transpose(k, opts) end
---@param opts? dagl.WindowOptions|integer
---@return dagl.Tensor
function Tensor:max_pool2d(opts) end
---@param opts? dagl.WindowOptions|integer
---@return dagl.Tensor
function Tensor:avg_pool2d(opts) end
---Slices along dim at int64 indices counting from 1 (idx 1-D unless dim is 1).
---@param dim integer
---@param idx dagl.Tensor
---@return dagl.Tensor
function Tensor:index_select(dim, idx) end
---A dropout mask with this tensor's shape and dtype (see dagl.dropout_mask).
---@param rate number
---@param seed integer
---@param counter? integer
---@return dagl.Tensor
function Tensor:dropout_mask(rate, seed, counter) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:add(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:sub(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:mul(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:div(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:pow(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:maximum(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:floor_divide(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:remainder(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:minimum(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:eq(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:ne(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:lt(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:le(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:gt(b) end
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:ge(b) end
---@param lo? number
---@param hi? number
---@return dagl.Tensor
function Tensor:clamp(lo, hi) end
---self is the condition.
---@param a dagl.operand
---@param b dagl.operand
---@return dagl.Tensor
function Tensor:where(a, b) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function Tensor:sum(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function Tensor:mean(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function Tensor:max(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor
function Tensor:min(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor int64, 1-based
function Tensor:argmax(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@return dagl.Tensor int64, 1-based
function Tensor:argmin(dims, keepdim) end
---@param dims? dagl.dims
---@param keepdim? boolean
---@param correction? integer
---@return dagl.Tensor
function Tensor:var(dims, keepdim, correction) end
---@param dims? dagl.dims
---@param keepdim? boolean|table
---@param correction? integer
---@return dagl.Tensor
function Tensor:std(dims, keepdim, correction) end
---@param dim integer
---@param opts? {reverse?: boolean}
---@return dagl.Tensor
function Tensor:cumsum(dim, opts) end
---@param dim? integer
---@param descending? boolean|table
---@return dagl.Tensor
function Tensor:argsort(dim, descending) end
---@param dim? integer
---@param descending? boolean|table
---@return dagl.Tensor values
---@return dagl.Tensor indices
function Tensor:sort(dim, descending) end
---@param k integer
---@param dim? integer|table
---@param largest? boolean
---@param sorted? boolean
---@return dagl.Tensor values
---@return dagl.Tensor indices
function Tensor:topk(k, dim, largest, sorted) end
---@param dim integer
---@param idx dagl.Tensor
---@return dagl.Tensor
function Tensor:gather(dim, idx) end
---@param dim integer
---@param idx dagl.Tensor
---@param src dagl.Tensor
---@return dagl.Tensor
function Tensor:scatter_add(dim, idx, src) end
---@param size integer|integer[]
---@param dim? integer
---@return dagl.Tensor[]
function Tensor:split(size, dim) end
---@param n integer
---@param dim? integer
---@return dagl.Tensor[]
function Tensor:chunk(n, dim) end
---@param diagonal? integer
---@return dagl.Tensor
function Tensor:tril(diagonal) end
---@param diagonal? integer
---@return dagl.Tensor
function Tensor:triu(diagonal) end
---@param dim? integer default -1 (the last)
---@return dagl.Tensor
function Tensor:softmax(dim) end
---@param dim? integer default -1 (the last)
---@return dagl.Tensor
function Tensor:log_softmax(dim) end
---@param b dagl.Tensor
---@return dagl.Tensor
function Tensor:matmul(b) end
---@param ... integer|integer[]
---@return dagl.Tensor
function Tensor:reshape(...) end
---@param ... integer|integer[]
---@return dagl.Tensor
function Tensor:view(...) end
---@return dagl.Tensor
function Tensor:flatten() end
---@param d1? integer
---@param d2? integer
---@return dagl.Tensor
function Tensor:transpose(d1, d2) end
---@return dagl.Tensor
function Tensor:t() end
---@param ... integer|integer[]
---@return dagl.Tensor
function Tensor:permute(...) end
---@param dim integer
---@param first? integer
---@param last? integer inclusive
---@param step? integer
---@return dagl.Tensor
function Tensor:slice(dim, first, last, step) end
---@param dim integer
---@param first integer
---@param length integer
---@return dagl.Tensor
function Tensor:narrow(dim, first, length) end
---@param dim integer
---@param i integer
---@return dagl.Tensor
function Tensor:select(dim, i) end
---@param dim? integer
---@return dagl.Tensor
function Tensor:squeeze(dim) end
---@param dim integer
---@return dagl.Tensor
function Tensor:unsqueeze(dim) end
---@param ... integer|integer[]
---@return dagl.Tensor
function Tensor:expand(...) end
---@return dagl.Tensor
function Tensor:contiguous() end
---@return dagl.Tensor
function Tensor:clone() end
---@param dtype dagl.dtype
---@param scale? number the values times this, in the same pass
---@return dagl.Tensor
function Tensor:to(dtype, scale) end
---Converted to float32; x:float(1/255) turns uint8 images into [0, 1] in one pass.
---@param scale? number
---@return dagl.Tensor
function Tensor:float(scale) end
---@param scale? number
---@return dagl.Tensor
function Tensor:double(scale) end
---@param scale? number
---@return dagl.Tensor
function Tensor:long(scale) end
---Converted to uint8 (rounded toward zero, saturated to 0..255, NaN 0).
---@param scale? number
---@return dagl.Tensor
function Tensor:byte(scale) end
---@param v number
---@return dagl.Tensor self
function Tensor:fill(v) end
---@param src dagl.Tensor
---@return dagl.Tensor self
function Tensor:copy(src) end
---@param x dagl.Tensor
---@param alpha? number
---@return dagl.Tensor self
function Tensor:add_(x, alpha) end
---@param v dagl.Tensor|dagl.Symbol
---@return dagl.Tensor|dagl.Symbol self
function Tensor:assign(v) end
---@param dim? integer
---@return integer[]|integer
function Tensor:size(dim) end
---@return integer[]
function Tensor:stride() end
---@return integer
function Tensor:dim() end
---@return integer
function Tensor:numel() end
---@return string
function Tensor:dtype() end
---@return boolean
function Tensor:is_contiguous() end
---@return integer
function Tensor:storage_offset() end
---@return number
function Tensor:item() end
---@return table|number
function Tensor:totable() end
function Tensor:close() end

-- ---------------------------------------------------------------- graph and fn objects

---@param dtype dagl.dtype
---@param shape integer[]
---@return integer id
function Graph:input(dtype, shape) end
---@param t dagl.Tensor
---@return integer id
function Graph:constant(t) end
---@param op string
---@param srcs integer[]
---@param params? table scalar, scalar_first, lo, hi, dims (0-based), keepdim, correction, shape
---@return integer id
function Graph:node(op, srcs, params) end
---@param handle userdata from dagl.luaop_new
---@param srcs integer[]
---@param dtype dagl.dtype
---@param shape integer[]
---@return integer id
function Graph:custom(handle, srcs, dtype, shape) end
---@param id integer
---@param name string
function Graph:label(id, name) end
---@param id integer
function Graph:output(id) end
---@param id integer
---@return string dtype
---@return integer[] shape
function Graph:info(id) end
---@return integer
function Graph:num_nodes() end
---@return string
function Graph:dot() end
---Op nodes a run executes (after fusion, dead nodes dropped) and the memory plan of their
---results: the naive sum (total_bytes), the planned peak (peak_bytes: the arena plus results with
---memory of their own), the arena, and how many results live in it (in place over a source).
---@return {nodes: integer, total_bytes: integer, peak_bytes: integer, arena_bytes: integer, planned_nodes: integer, inplace_nodes: integer}
function Graph:plan() end
---@param ... dagl.Tensor
---@return dagl.Tensor ...
function Graph:run(...) end
function Graph:free() end

---@param ... dagl.Tensor
---@return dagl.Graph
function Fn:graph(...) end
---@param ... dagl.Tensor
---@return string
function Fn:dot(...) end

-- ---------------------------------------------------------------- dagl.nn

---@class dagl.nn.WeightEntry
---@field name string "layer_name/weight_name"
---@field value dagl.Tensor
---@field trainable boolean

---@alias dagl.nn.Regularizer fun(w: dagl.Symbol): dagl.Symbol

---@class dagl.nn.Layer
---@field name string
---@field weights dagl.nn.WeightEntry[]
---@field built boolean
---@field trainable? boolean false freezes every weight of the layer
---@overload fun(x: dagl.Tensor|dagl.Tensor[]|dagl.nn.KerasTensor|dagl.nn.KerasTensor[]): dagl.Tensor
local Layer = {}
---@param opts? table
function Layer:init(opts) end
---@param input_shape integer[]
function Layer:build(input_shape) end
---@param name string
---@param tensor dagl.Tensor
---@param opts? {trainable?: boolean}
---@return dagl.Tensor
function Layer:add_weight(name, tensor, opts) end
---@param x dagl.Tensor
---@return dagl.Tensor
function Layer:call(x) end
---The options that rebuild the layer: Class(config) (or Class.from_config(config)) makes the same layer.
---@return table
function Layer:get_config() end
---@param input_shape integer[]
---@return integer[]
function Layer:output_shape(input_shape) end
---Reads activation, use_bias, kernel_initializer, kernel_regularizer, bias_regularizer.
---@param opts table
---@param what string the layer's name in errors
function Layer:kernel_options(opts, what) end
---Makes layer.kernel (and layer.bias with use_bias).
---@param fan_in integer
---@param fan_out integer
---@param shape integer[]
---@param what string
function Layer:add_kernel(fan_in, fan_out, shape, what) end
---Adds reg(w) to the loss while a model traces its training step.
---@param x dagl.Symbol|dagl.Tensor the layer's input
---@param w dagl.Tensor
---@param reg? dagl.nn.Regularizer
function Layer:regularize(x, w, reg) end
---@param x dagl.Symbol|dagl.Tensor
function Layer:regularize_kernel(x) end

---A symbolic input of the functional API (nn.Input) or a layer's output on one.
---@class dagl.nn.KerasTensor
---@field shape integer[] without the batch dim
---@field dtype string
---@field name string

---@alias dagl.nn.Schedule fun(step: integer): number the rate at a step counted from 0

---@class dagl.nn.Optimizer
---@field name string "SGD"|"Adam"|"AdamW"|"RMSprop"|"Adagrad"
---@field iterations integer the steps taken
---@field learning_rate number|dagl.nn.Schedule settable between steps
---@field config table the options given (what rebuilds the optimizer)
---@field hyper_names string[]
---@field apply fun(weights: dagl.Tensor[], grads: dagl.Tensor[])
---@field emit fun(weights: dagl.Tensor[], grads: dagl.Symbol[], hyper: dagl.Symbol[])
---@field next_hyper fun(): number[], table<string, number>
---@field state_tensors fun(named: dagl.nn.WeightEntry[]): table<string, dagl.Tensor>

---@class dagl.nn.Loss
---@field name string
---@field class_name? string
---@field kind string "regression"|"binary"|"categorical"|"sparse"|"custom"
---@field from_logits boolean
---@field label_smoothing number
---@field reduction "sum_over_batch_size"|"sum"|"none"
---@field per_sample fun(self: dagl.nn.Loss, pred: dagl.Tensor, target: dagl.Tensor): dagl.Tensor one value per row
---@field training_value fun(self: dagl.nn.Loss, pred: dagl.Tensor, target: dagl.Tensor): dagl.Tensor the scalar fit minimizes
---@field get_config fun(self: dagl.nn.Loss): {class_name: string, config: table}
---@overload fun(pred: dagl.Tensor, target: dagl.Tensor|integer[]): dagl.Tensor

---@alias dagl.nn.Reduction "sum_over_batch_size"|"mean"|"mean_with_sample_weight"|"sum"|"none"|false
---@alias dagl.nn.RegressionLossOptions {reduction?: dagl.nn.Reduction, name?: string}
---@alias dagl.nn.CrossentropyOptions {from_logits?: boolean, label_smoothing?: number, axis?: -1, reduction?: dagl.nn.Reduction, name?: string}

---@alias dagl.nn.Metric fun(pred: dagl.Tensor, target: dagl.Tensor): dagl.Tensor

---A table of hooks (all optional); fit sets its model field.
---@class dagl.nn.Callback
---@field model? dagl.nn.Model
---@field on_train_begin? fun(self: dagl.nn.Callback, logs: table<string, number>)
---@field on_epoch_begin? fun(self: dagl.nn.Callback, epoch: integer, logs: table<string, number>)
---@field on_epoch_end? fun(self: dagl.nn.Callback, epoch: integer, logs: table<string, number>): boolean?
---@field on_batch_end? fun(self: dagl.nn.Callback, batch: integer, logs: {loss: number, batch: integer, size: integer})
---@field on_train_end? fun(self: dagl.nn.Callback, logs: table<string, number>)

---@alias dagl.nn.CallbackFn fun(epoch: integer, logs: table<string, number>, model: dagl.nn.Model): boolean?

---@alias dagl.nn.Mode "auto"|"min"|"max"
---@alias dagl.nn.EarlyStoppingOptions {monitor?: string, min_delta?: number, patience?: integer, verbose?: 0|1|boolean, mode?: dagl.nn.Mode, baseline?: number, restore_best_weights?: boolean, start_from_epoch?: integer}
---@alias dagl.nn.ModelCheckpointOptions {filepath?: string, path?: string, monitor?: string, verbose?: 0|1|boolean, save_best_only?: boolean, save_weights_only?: boolean, mode?: dagl.nn.Mode, save_freq?: "epoch", initial_value_threshold?: number, include_optimizer?: boolean}
---@alias dagl.nn.CSVLoggerOptions {filename?: string, path?: string, separator?: string, append?: boolean}

---@class dagl.nn.FitOptions
---@field epochs? integer
---@field batch_size? integer
---@field validation_split? number
---@field validation_data? {[1]: dagl.Tensor|dagl.Tensor[], [2]: dagl.Tensor|integer[]|dagl.Tensor[]}
---@field shuffle? boolean
---@field verbose? boolean|0|1|2
---@field callbacks? dagl.nn.Callback|dagl.nn.CallbackFn|(dagl.nn.Callback|dagl.nn.CallbackFn)[]
---@field initial_epoch? integer

---Per-epoch lists: loss, one per metric, and their val_ versions.
---@class dagl.nn.History
---@field loss number[]
---@field accuracy? number[]
---@field val_loss? number[]
---@field val_accuracy? number[]
---@field epoch integer[]
---@field stopped_epoch? integer
---@field [string] number[]

---The base of every model (Sequential, functional, subclassed).
---@class dagl.nn.Model
---@field name string
---@field history? dagl.nn.History
---@field stop_training? boolean
---@overload fun(x: dagl.Tensor|dagl.Tensor[]): dagl.Tensor|dagl.Tensor[]
local Model = {}
---A subclass: MyModel(...) makes an instance and calls its init(...).
---@param kind? string
---@return table class
function Model:extend(kind) end
---@param ... any
function Model:init(...) end
---@param x dagl.Tensor|dagl.Tensor[]
---@return dagl.Tensor|dagl.Tensor[]
function Model:call(x) end
---@param input_shape integer[]|integer[][]
---@return integer[]|integer[][] output_shape
function Model:build(input_shape) end
---@return dagl.nn.Layer[]
function Model:layer_list() end
---@return dagl.nn.WeightEntry[]
function Model:weight_entries() end
---@return dagl.Tensor[]
function Model:weights() end
---@return dagl.Tensor[]
function Model:trainable_weights() end
---@return dagl.Tensor[]
function Model:non_trainable_weights() end
---Copies of every weight tensor, in the order of weights().
---@return dagl.Tensor[]
function Model:get_weights() end
---Copies a list of tensors (as get_weights returns) into the weights; checks count and shapes.
---@param list dagl.Tensor[]
function Model:set_weights(list) end
---A layer by name or 1-based position.
---@param key string|integer
---@return dagl.nn.Layer
function Model:get_layer(key) end
---@param input_shape? integer[]|integer[][]
---@param opts? {quiet?: boolean}
---@return string
function Model:summary(input_shape, opts) end
---@param opts {optimizer?: dagl.nn.Optimizer, loss?: string|dagl.nn.Loss|fun(pred: dagl.Tensor, y: dagl.Tensor): dagl.Tensor, metrics?: (string|dagl.nn.Metric)[]}
function Model:compile(opts) end
---@param x dagl.Tensor|dagl.Tensor[]
---@param y dagl.Tensor|integer[]|dagl.Tensor[]
---@param opts? dagl.nn.FitOptions
---@return dagl.nn.History
function Model:fit(x, y, opts) end
---@param x dagl.Tensor|dagl.Tensor[]
---@param batch_size? integer
---@return dagl.Tensor|dagl.Tensor[]
function Model:predict(x, batch_size) end
---@param x dagl.Tensor|dagl.Tensor[]
---@param y dagl.Tensor|integer[]|dagl.Tensor[]
---@param opts? {batch_size?: integer, return_dict?: boolean}
---@return number|table<string, number> loss
---@return number ... metrics in compile order
function Model:evaluate(x, y, opts) end
---One optimizer step on one batch; the loss and the metric values.
---@param x dagl.Tensor|dagl.Tensor[]
---@param y dagl.Tensor|integer[]|dagl.Tensor[]
---@return number loss
---@return number ... metrics in compile order
function Model:train_on_batch(x, y) end
---@param path string
---@param metadata? table<string, string|number>
---@param opts? {include_optimizer?: boolean}
function Model:save_weights(path, metadata, opts) end
---Matched by architecture (position and shape) unless by_name; see nn.load_weights.
---@param path string
---@param opts? {by_name?: boolean}
---@return dagl.nn.Model
function Model:load_weights(path, opts) end
---The architecture, weights and compile settings in one safetensors file (nn.load_model reads it).
---Sequential and functional models; a subclassed model raises.
---@param path string
---@param opts? {include_optimizer?: boolean}
function Model:save(path, opts) end
---@return dagl.Fn step
---@return dagl.Tensor[] weights
function Model:train_step() end

---@class dagl.nn.Sequential: dagl.nn.Model
---@field layers dagl.nn.Layer[]
local Sequential = {}
---@param layer dagl.nn.Layer
function Sequential:add(layer) end

---A functional model (nn.Model{inputs =, outputs =}).
---@class dagl.nn.Functional: dagl.nn.Model
---@field inputs dagl.nn.KerasTensor[]
---@field outputs dagl.nn.KerasTensor[]
---@field layers dagl.nn.Layer[]

---nn.Model{inputs =, outputs =} makes a functional model; nn.Model:extend() a subclass.
---@class dagl.nn.ModelClass: dagl.nn.Model
---@overload fun(opts: {inputs: dagl.nn.KerasTensor|dagl.nn.KerasTensor[], outputs: dagl.nn.KerasTensor|dagl.nn.KerasTensor[], name?: string}): dagl.nn.Functional

---Loss classes take their options positionally in Keras's order or as one table.
---@class dagl.nn.losses
---@field mse dagl.nn.Loss
---@field mean_squared_error dagl.nn.Loss
---@field mae dagl.nn.Loss
---@field mean_absolute_error dagl.nn.Loss
---@field mean_squared_logarithmic_error dagl.nn.Loss
---@field huber dagl.nn.Loss
---@field kl_divergence dagl.nn.Loss
---@field hinge dagl.nn.Loss
---@field binary_crossentropy dagl.nn.Loss
---@field categorical_crossentropy dagl.nn.Loss
---@field sparse_categorical_crossentropy dagl.nn.Loss
---@field MeanSquaredError fun(opts?: dagl.nn.RegressionLossOptions): dagl.nn.Loss
---@field MeanAbsoluteError fun(opts?: dagl.nn.RegressionLossOptions): dagl.nn.Loss
---@field MeanSquaredLogarithmicError fun(opts?: dagl.nn.RegressionLossOptions): dagl.nn.Loss
---@field KLDivergence fun(opts?: dagl.nn.RegressionLossOptions): dagl.nn.Loss
---@field Hinge fun(opts?: dagl.nn.RegressionLossOptions): dagl.nn.Loss
---@field Huber fun(opts?: {delta?: number, reduction?: dagl.nn.Reduction, name?: string}): dagl.nn.Loss
---@field BinaryCrossentropy fun(opts?: dagl.nn.CrossentropyOptions): dagl.nn.Loss
---@field CategoricalCrossentropy fun(opts?: dagl.nn.CrossentropyOptions): dagl.nn.Loss
---@field SparseCategoricalCrossentropy fun(opts?: {from_logits?: boolean, label_smoothing?: number, reduction?: dagl.nn.Reduction, name?: string}): dagl.nn.Loss
---@field get fun(spec: string|dagl.nn.Loss|function|{class_name: string, config?: table}): dagl.nn.Loss

---@class dagl.nn.metrics
---@field binary_accuracy fun(pred: dagl.Tensor, y: dagl.Tensor, threshold?: number): dagl.Tensor
---@field categorical_accuracy dagl.nn.Metric
---@field sparse_categorical_accuracy dagl.nn.Metric
---@field top_k_categorical_accuracy fun(pred: dagl.Tensor, y: dagl.Tensor, k?: integer): dagl.Tensor
---@field sparse_top_k_categorical_accuracy fun(pred: dagl.Tensor, y: dagl.Tensor, k?: integer): dagl.Tensor
---@field mse dagl.nn.Metric
---@field mean_squared_error dagl.nn.Metric
---@field mae dagl.nn.Metric
---@field mean_absolute_error dagl.nn.Metric
---@field get fun(spec: string|dagl.nn.Metric, loss: dagl.nn.Loss, out_width: integer): dagl.nn.Metric
---@field list fun(spec: string|dagl.nn.Metric|(string|dagl.nn.Metric)[]|nil, level?: integer): (string|dagl.nn.Metric)[] compile's metrics as a list

---@class dagl.nn.regularizers
---@field l1 fun(c?: number): dagl.nn.Regularizer
---@field l2 fun(c?: number): dagl.nn.Regularizer
---@field l1_l2 fun(c1?: number, c2?: number): dagl.nn.Regularizer

---Callbacks take their options positionally in Keras's order or as one table.
---@class dagl.nn.callbacks
---@field EarlyStopping fun(opts?: dagl.nn.EarlyStoppingOptions): dagl.nn.Callback
---@field early_stopping fun(opts?: dagl.nn.EarlyStoppingOptions): dagl.nn.Callback patience = 3 by default
---@field ModelCheckpoint fun(filepath: string|dagl.nn.ModelCheckpointOptions, opts?: dagl.nn.ModelCheckpointOptions): dagl.nn.Callback
---@field model_checkpoint fun(opts: dagl.nn.ModelCheckpointOptions): dagl.nn.Callback save_weights_only = true by default
---@field CSVLogger fun(filename: string|dagl.nn.CSVLoggerOptions, separator?: string, append?: boolean): dagl.nn.Callback
---@field csv_logger fun(path: string|dagl.nn.CSVLoggerOptions): dagl.nn.Callback
---@field list fun(v: dagl.nn.Callback|dagl.nn.CallbackFn|(dagl.nn.Callback|dagl.nn.CallbackFn)[]|nil, level?: integer): (dagl.nn.Callback|dagl.nn.CallbackFn)[]
---@field runner fun(list: table, model: dagl.nn.Model): table internal (fit)

---@alias dagl.nn.KernelOptions {activation?: string, use_bias?: boolean, kernel_initializer?: string, kernel_regularizer?: dagl.nn.Regularizer, bias_regularizer?: dagl.nn.Regularizer, name?: string}

---@class dagl.nn
---@field training boolean
---@field Layer dagl.nn.Layer
---@field Model dagl.nn.ModelClass
---@field Functional dagl.nn.Functional
---@field losses dagl.nn.losses
---@field metrics dagl.nn.metrics
---@field regularizers dagl.nn.regularizers
---@field callbacks dagl.nn.callbacks
---@field activations table<string, fun(x: dagl.Tensor): dagl.Tensor>
---@field initializers table<string, fun(fan_in: integer, fan_out: integer, shape: integer[]): dagl.Tensor>
---@field schedules dagl.nn.schedules
---@field optimizers dagl.nn.optimizers
---@field MaxPooling2D fun(pool_size?: dagl.pair|table, opts?: {strides?: dagl.pair, padding?: dagl.padding, name?: string}): dagl.nn.Layer
---@field AveragePooling2D fun(pool_size?: dagl.pair|table, opts?: {strides?: dagl.pair, padding?: dagl.padding, name?: string}): dagl.nn.Layer
local nn = {}
---@param units integer
---@param opts? dagl.nn.KernelOptions
---@return dagl.nn.Layer
function nn.Dense(units, opts) end
---@param name string
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Activation(name, opts) end
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Flatten(opts) end
---@param target_shape integer[] without the batch dim; one entry may be -1
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Reshape(target_shape, opts) end
---x * scale + offset in float32 (Keras's Rescaling); uint8 inputs are converted and scaled in one pass.
---@param scale number 1/255 maps bytes to [0, 1]
---@param offset? number default 0
---@param opts? {name?: string, dtype?: "float32"|"float64", input_shape?: integer[]}
---@return dagl.nn.Layer
function nn.Rescaling(scale, offset, opts) end
---@param opts? {epsilon?: number, name?: string}
---@return dagl.nn.Layer
function nn.LayerNormalization(opts) end
---@param opts? {momentum?: number, epsilon?: number, center?: boolean, scale?: boolean, name?: string}
---@return dagl.nn.Layer
function nn.BatchNormalization(opts) end
---@param rate number in [0, 1)
---@param opts? {seed?: integer, name?: string}
---@return dagl.nn.Layer
function nn.Dropout(rate, opts) end
---@param input_dim integer
---@param output_dim integer
---@param opts? {embeddings_regularizer?: dagl.nn.Regularizer, name?: string}
---@return dagl.nn.Layer
function nn.Embedding(input_dim, output_dim, opts) end
---@param filters integer
---@param kernel_size dagl.pair
---@param opts? {strides?: dagl.pair, padding?: dagl.padding, activation?: string, use_bias?: boolean, kernel_initializer?: string, kernel_regularizer?: dagl.nn.Regularizer, bias_regularizer?: dagl.nn.Regularizer, name?: string}
---@return dagl.nn.Layer
function nn.Conv2D(filters, kernel_size, opts) end
---@param pool_size? dagl.pair|{pool_size?: dagl.pair, strides?: dagl.pair, padding?: dagl.padding, name?: string}
---@param opts? {strides?: dagl.pair, padding?: dagl.padding, name?: string}
---@return dagl.nn.Layer
function nn.MaxPool2D(pool_size, opts) end
---@param pool_size? dagl.pair|{pool_size?: dagl.pair, strides?: dagl.pair, padding?: dagl.padding, name?: string}
---@param opts? {strides?: dagl.pair, padding?: dagl.padding, name?: string}
---@return dagl.nn.Layer
function nn.AvgPool2D(pool_size, opts) end
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.GlobalAveragePooling2D(opts) end
---Merge layer: call it on a list, nn.Add()({a, b}).
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Add(opts) end
---Merge layer: call it on a list, nn.Concatenate{axis = -1}({a, b}).
---@param opts? {axis?: integer, name?: string}
---@return dagl.nn.Layer
function nn.Concatenate(opts) end
---@param layers? dagl.nn.Layer[]
---@return dagl.nn.Sequential
function nn.Sequential(layers) end
---@param opts {shape: integer[], dtype?: string, name?: string}
---@return dagl.nn.KerasTensor
function nn.Input(opts) end
---@param opts {shape: integer[], dtype?: string, name?: string}
---@return dagl.nn.KerasTensor
function dagl.input(opts) end
---@param v any
---@return boolean
function nn.is_keras_tensor(v) end
---@param v any
---@return boolean
function nn.is_layer(v) end
---@param kind string
---@return table class
function nn.layer_class(kind) end
---The options of Keras 3's base optimizer, which every optimizer takes (at most one clipping).
---@alias dagl.nn.OptimizerOptions {learning_rate?: number|dagl.nn.Schedule, lr?: number|dagl.nn.Schedule, weight_decay?: number, clipnorm?: number, clipvalue?: number, global_clipnorm?: number, use_ema?: false, ema_momentum?: 0.99, ema_overwrite_frequency?: nil, loss_scale_factor?: nil, gradient_accumulation_steps?: nil}
---@alias dagl.nn.Formula "keras"|"pytorch"

---Keras 3's SGD: positional (learning_rate, momentum, nesterov), then options.
---@param learning_rate? number|dagl.nn.Schedule|dagl.nn.OptimizerOptions|{momentum?: number, nesterov?: boolean}
---@param ... any momentum, nesterov, then an options table
---@return dagl.nn.Optimizer
function nn.SGD(learning_rate, ...) end
---Keras 3's Adam: positional (learning_rate, beta_1, beta_2, epsilon, amsgrad), then options
---(also beta1, beta2, eps; formula = "pytorch" for torch.optim.Adam's update).
---@param learning_rate? number|dagl.nn.Schedule|dagl.nn.OptimizerOptions|{beta_1?: number, beta_2?: number, epsilon?: number, amsgrad?: boolean, formula?: dagl.nn.Formula}
---@param ... any
---@return dagl.nn.Optimizer
function nn.Adam(learning_rate, ...) end
---Keras 3's AdamW (weight_decay = 0.004): positional (learning_rate, weight_decay, beta_1, beta_2, epsilon, amsgrad).
---@param learning_rate? number|dagl.nn.Schedule|dagl.nn.OptimizerOptions|{beta_1?: number, beta_2?: number, epsilon?: number, amsgrad?: boolean, formula?: dagl.nn.Formula}
---@param ... any
---@return dagl.nn.Optimizer
function nn.AdamW(learning_rate, ...) end
---Keras 3's RMSprop: positional (learning_rate, rho, momentum, epsilon, centered), then options (also alpha for rho).
---@param learning_rate? number|dagl.nn.Schedule|dagl.nn.OptimizerOptions|{rho?: number, momentum?: number, epsilon?: number, centered?: boolean, formula?: dagl.nn.Formula}
---@param ... any
---@return dagl.nn.Optimizer
function nn.RMSprop(learning_rate, ...) end
---Keras 3's Adagrad: positional (learning_rate, initial_accumulator_value, epsilon), then options.
---@param learning_rate? number|dagl.nn.Schedule|dagl.nn.OptimizerOptions|{initial_accumulator_value?: number, epsilon?: number, formula?: dagl.nn.Formula}
---@param ... any
---@return dagl.nn.Optimizer
function nn.Adagrad(learning_rate, ...) end
---@param v any
---@return boolean
function nn.is_optimizer(v) end

---@class dagl.nn.optimizers
---@field SGD fun(...): dagl.nn.Optimizer
---@field Adam fun(...): dagl.nn.Optimizer
---@field AdamW fun(...): dagl.nn.Optimizer
---@field RMSprop fun(...): dagl.nn.Optimizer
---@field Adagrad fun(...): dagl.nn.Optimizer
---@field schedules dagl.nn.schedules
---An optimizer by name ("adam", any case), by config {class_name =, config =}, or as it is.
---@field get fun(spec: string|dagl.nn.Optimizer|{class_name: string, config?: table}): dagl.nn.Optimizer

---Keras's ExponentialDecay and CosineDecay: positional values in Keras's order, then options.
---@class dagl.nn.schedules
---@field exponential fun(initial_learning_rate: number|{initial_learning_rate: number, decay_steps: number, decay_rate: number, staircase?: boolean}, decay_steps?: number, decay_rate?: number, staircase?: boolean): dagl.nn.Schedule
---@field ExponentialDecay fun(initial_learning_rate: number|table, decay_steps?: number, decay_rate?: number, staircase?: boolean): dagl.nn.Schedule
---@field cosine fun(initial_learning_rate: number|{initial_learning_rate: number, decay_steps: number, alpha?: number, warmup_target?: number, warmup_steps?: number}, decay_steps?: number, alpha?: number, opts?: {warmup_target?: number, warmup_steps?: number}): dagl.nn.Schedule
---@field CosineDecay fun(initial_learning_rate: number|table, decay_steps?: number, alpha?: number, opts?: {warmup_target?: number, warmup_steps?: number}): dagl.nn.Schedule
---@param model dagl.nn.Model|dagl.nn.Layer
---@param path string
---@param metadata? table<string, string|number>
---@param opts? {include_optimizer?: boolean}
function nn.save_weights(model, path, metadata, opts) end
---@param model dagl.nn.Model|dagl.nn.Layer
---@param path string .safetensors, .npz or a directory of .npy files
---@param opts? {by_name?: boolean} by_name: match by names, not by position in layer order
---@return dagl.nn.Model|dagl.nn.Layer
function nn.load_weights(model, path, opts) end
---model:save(path, opts) as a function.
---@param model dagl.nn.Model
---@param path string
---@param opts? {include_optimizer?: boolean}
function nn.save_model(model, path, opts) end
---The model that model:save wrote: rebuilt, weights loaded, compiled again when the file says how.
---@param path string
---@param opts? {custom_objects?: table<string, table>, compile?: boolean}
---@return dagl.nn.Model
function nn.load_model(path, opts) end
---Makes a custom layer class known to model:save and nn.load_model by name.
---@generic C: table
---@param name string
---@param class C
---@return C
function nn.register_layer(name, class) end
---@param model dagl.nn.Model|dagl.nn.Layer
---@return dagl.nn.WeightEntry[]
function nn.named_weights(model) end
---@param labels dagl.Tensor|integer[] integers 0..n-1
---@param n integer
---@return dagl.Tensor
function nn.one_hot(labels, n) end
---@param scores dagl.Tensor
---@param y dagl.Tensor|integer[]
---@return number
function nn.accuracy(scores, y) end
---@param target dagl.Tensor
---@param value dagl.Symbol
function nn.add_update(target, value) end
---@param value dagl.Symbol
function nn.add_loss(value) end
---@param training boolean
---@param body fun(...): ...
---@return {target: dagl.Tensor, value: dagl.Symbol}[] updates
---@return dagl.Symbol[] losses
---@return ...
function nn.collect(training, body, ...) end
---A weight as a symbol of like's trace (t itself when like is not a symbol).
---@param t dagl.Tensor
---@param like dagl.Symbol|dagl.Tensor
---@return dagl.Symbol|dagl.Tensor
function nn.as_symbol(t, like) end

-- ---------------------------------------------------------------- dagl.data

---@class dagl.data
local data = {}
---@class dagl.data.BatchOptions
---@field batch_size? integer rows per batch, >= 1 (default 32)
---@field shuffle? boolean (default true)
---@field seed? integer the order's seed (default: drawn from math.random)
---@field drop_last? boolean skip a last partial batch (default false)
---@field drop_remainder? boolean TensorFlow's spelling of drop_last
---@field prefetch? boolean gather the next batch on a background thread (default true)

---for xb, yb in dagl.data.batches(x, y, opts) do ... end (or batches(x, opts)). Unknown options
---and wrong values raise.
---@param x dagl.Tensor|table
---@param y? dagl.Tensor|table|dagl.data.BatchOptions
---@param opts? dagl.data.BatchOptions
---@return fun(): dagl.Tensor|table?, dagl.Tensor|table?
function data.batches(x, y, opts) end
---@param n integer
---@param seed? integer nil: not shuffled
---@return integer[]
function data.permutation(n, seed) end
---dagl.read_csv, also for ".gz" files.
---@param path string
---@param opts? dagl.CsvOptions
---@return dagl.Tensor
---@return string[]? names
function data.read_csv(path, opts) end
---@param path string
---@param opts? {label_column?: integer|string, header?: boolean, delimiter?: string, sep?: string}
---@return dagl.Tensor x float32 features
---@return dagl.Tensor y int64 labels
---@return string[]? feature_names
function data.read_csv_dataset(path, opts) end
---An IDX file (MNIST's format), gzipped or not: unsigned bytes give uint8, int8/16/32 int64,
---float32/float64 their own.
---@param path string
---@return dagl.Tensor
function data.read_idx(path) end
---Keras's fashion_mnist.load_data() as four values: uint8 images (60000, 28, 28) and (10000, 28, 28),
---uint8 labels 0..9 (from Debian's dataset-fashion-mnist).
---@param opts? {dir?: string} the folder of the four IDX files (default /usr/share/datasets/fashion-mnist)
---@return dagl.Tensor x_train
---@return dagl.Tensor y_train
---@return dagl.Tensor x_test
---@return dagl.Tensor y_test
function data.fashion_mnist(opts) end

-- ---------------------------------------------------------------- dagl.ffi (see docs/ffi.md)

---@class dagl.ffi.Lib
local Lib = {}
---@param name string the symbol
---@param signature string e.g. "double(double, int64)"
---@return function
function Lib:func(name, signature) end
function Lib:close() end

---@class dagl.ffi.Kernel
---@field name string
---@overload fun(...: dagl.Tensor|number): dagl.Tensor

---@class dagl.ffi
local ffi = {}
---@param path? string nil: the program itself
---@return dagl.ffi.Lib
function ffi.load(path) end
---The options are checked at the call (unknown keys, wrong types, inputs outside 1..8 raise).
---@param spec {lib: dagl.ffi.Lib, name: string, inputs: integer, shape?: integer[]|fun(...: integer[]): integer[], split?: boolean, grain?: integer, backward?: function, module?: string, backward_fn?: string}
---@return dagl.ffi.Kernel
function ffi.kernel(spec) end

-- ---------------------------------------------------------------- dagl.onnx

---@class dagl.onnx
local onnx = {}
---@class dagl.onnx.Model
---@field inputs {name: string, dtype: string, shape: integer[]|false}[]
---@field outputs string[]
---@field opset integer
---@field num_graphs integer
---@operator call(...): dagl.Tensor
local OnnxModel = {}
---Outputs by name and position.
---@return table<string|integer, dagl.Tensor>
function OnnxModel:run(...) end
---The graph value that runs these inputs.
function OnnxModel:graph(...) end
---Loads an ONNX model (docs/onnx.md); opts.shapes gives input shapes to build now.
---@param path string
---@param opts? {shapes?: table}
---@return dagl.onnx.Model
function onnx.load(path, opts) end
---Writes what f computes on inputs like example_inputs as an ONNX model (opset 17).
---@param f function|table
---@param path string
---@param example_inputs dagl.Tensor[]
function onnx.save(f, path, example_inputs) end
---@param path string
---@return dagl.Tensor
function onnx.read_tensor(path) end
---@param t dagl.Tensor
---@param path string
function onnx.write_tensor(t, path) end

return dagl
