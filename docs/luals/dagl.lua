---@meta dagl
-- LuaLS annotations for dagl (https://luals.github.io/wiki/annotations/). Not loaded at run
-- time: point the language server at this directory ("workspace.library" in .luarc.json).
-- docs/lua_api.md is the reference; spec/docs_spec.lua checks that every module function and
-- tensor method is declared here.

---@alias dagl.dtype "float32"|"float64"|"int64"|"f32"|"f64"|"i64"|"float"|"double"|"long"
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
---@field traces integer number of signatures traced so far
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
---@type dagl.nn
dagl.nn = {}

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
---@return dagl.Tensor
function dagl.to(t, dtype) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.float(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.double(t) end
---@param t dagl.Tensor
---@return dagl.Tensor
function dagl.long(t) end
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

---@param f fun(...: dagl.Symbol): ...
---@return dagl.Fn
function dagl.fn(f) end
---@class dagl.GradOptions
---@field wrt? dagl.Tensor[] tensors (weights) to differentiate with respect to
---@field argnums? integer[] 1-based arguments to differentiate with respect to (default: all)

---Returns a callable giving f's value, then the gradients (arguments, then wrt tensors).
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
---@field dtype? dagl.dtype
---@field module? string
---@field fn? string

---@param spec dagl.LuaOpSpec
---@return dagl.LuaOp
function dagl.luaop(spec) end
---@param spec dagl.LuaOpSpec
---@return userdata handle for g:custom
function dagl.luaop_new(spec) end
---@return dagl.Graph
function dagl.graph() end

---@class dagl.TraceOptions
---@field json? string
---@field svg? string
---@field print? boolean

---@param opts dagl.TraceOptions
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

---@param n integer|{inter: integer}
function dagl.set_threads(n) end
---@return integer
function dagl.num_threads() end
---@param mode "global"|"per-worker"
function dagl.set_lock_mode(mode) end
---@return "global"|"per-worker"
function dagl.get_lock_mode() end
---@param seconds number
function dagl.sleep(seconds) end
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
---@return dagl.Tensor
function Tensor:to(dtype) end
---@return dagl.Tensor
function Tensor:float() end
---@return dagl.Tensor
function Tensor:double() end
---@return dagl.Tensor
function Tensor:long() end
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
---Op nodes a run executes (after fusion, dead nodes dropped) and a liveness estimate of the
---bytes of their results: all of them, and the most alive at once in node order.
---@return {nodes: integer, total_bytes: integer, peak_bytes: integer}
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

---@class dagl.nn.Layer
---@field name string
---@field weights {name: string, value: dagl.Tensor}[]
---@field built boolean
---@overload fun(x: dagl.Tensor): dagl.Tensor
local Layer = {}
---@param opts? table
function Layer:init(opts) end
---@param input_shape integer[]
function Layer:build(input_shape) end
---@param name string
---@param tensor dagl.Tensor
---@return dagl.Tensor
function Layer:add_weight(name, tensor) end
---@param x dagl.Tensor
---@return dagl.Tensor
function Layer:call(x) end
---@param input_shape integer[]
---@return integer[]
function Layer:output_shape(input_shape) end

---@class dagl.nn.Optimizer
---@field name string
---@field apply fun(weights: dagl.Tensor[], grads: dagl.Tensor[])

---@class dagl.nn.FitOptions
---@field epochs? integer
---@field batch_size? integer
---@field validation_split? number
---@field validation_data? {[1]: dagl.Tensor, [2]: dagl.Tensor|integer[]}
---@field shuffle? boolean
---@field verbose? boolean
---@field callbacks? fun(epoch: integer, logs: table<string, number>, model: dagl.nn.Sequential): boolean?[]

---@class dagl.nn.History
---@field loss number[]
---@field accuracy number[]
---@field val_loss number[]
---@field val_accuracy number[]
---@field stopped_epoch? integer

---@class dagl.nn.Sequential
---@field layers dagl.nn.Layer[]
---@overload fun(x: dagl.Tensor): dagl.Tensor
local Sequential = {}
---@param layer dagl.nn.Layer
function Sequential:add(layer) end
---@param input_shape integer[]
---@return integer[] output_shape
function Sequential:build(input_shape) end
---@return dagl.Tensor[]
function Sequential:weights() end
---@param input_shape? integer[]
---@return string
function Sequential:summary(input_shape) end
---@param opts {optimizer?: dagl.nn.Optimizer, loss?: string|fun(pred: dagl.Tensor, y: dagl.Tensor): dagl.Tensor, metrics?: string[]}
function Sequential:compile(opts) end
---@param x dagl.Tensor
---@param y dagl.Tensor|integer[]
---@param opts? dagl.nn.FitOptions
---@return dagl.nn.History
function Sequential:fit(x, y, opts) end
---@param x dagl.Tensor
---@param batch_size? integer
---@return dagl.Tensor
function Sequential:predict(x, batch_size) end
---@param x dagl.Tensor
---@param y dagl.Tensor|integer[]
---@return number loss
---@return number accuracy
function Sequential:evaluate(x, y) end

---@class dagl.nn
---@field training boolean
---@field Layer dagl.nn.Layer
---@field losses table<string, fun(pred: dagl.Tensor, y: dagl.Tensor): dagl.Tensor>
---@field activations table<string, fun(x: dagl.Tensor): dagl.Tensor>
---@field initializers table<string, fun(fan_in: integer, fan_out: integer, shape: integer[]): dagl.Tensor>
---@field schedules {exponential: fun(lr: number, decay_steps: number, decay_rate: number): fun(step: integer): number, cosine: fun(lr: number, decay_steps: number, alpha?: number): fun(step: integer): number}
---@field callbacks {early_stopping: fun(opts?: {monitor?: string, patience?: integer, min_delta?: number}): function, csv_logger: fun(path: string): function}
local nn = {}
---@param units integer
---@param opts? {activation?: string, use_bias?: boolean, kernel_initializer?: string, name?: string}
---@return dagl.nn.Layer
function nn.Dense(units, opts) end
---@param name string
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Activation(name, opts) end
---@param opts? {name?: string}
---@return dagl.nn.Layer
function nn.Flatten(opts) end
---@param opts? {epsilon?: number, name?: string}
---@return dagl.nn.Layer
function nn.LayerNormalization(opts) end
---@param layers? dagl.nn.Layer[]
---@return dagl.nn.Sequential
function nn.Sequential(layers) end
---@param kind string
---@return table class
function nn.layer_class(kind) end
---@param opts? {lr?: number|fun(step: integer): number, momentum?: number, nesterov?: boolean, clipnorm?: number}
---@return dagl.nn.Optimizer
function nn.SGD(opts) end
---@param opts? {lr?: number|fun(step: integer): number, beta1?: number, beta2?: number, eps?: number, weight_decay?: number, clipnorm?: number}
---@return dagl.nn.Optimizer
function nn.Adam(opts) end
---@param opts? {lr?: number|fun(step: integer): number, beta1?: number, beta2?: number, eps?: number, weight_decay?: number, clipnorm?: number}
---@return dagl.nn.Optimizer
function nn.AdamW(opts) end
---@param opts? {lr?: number|fun(step: integer): number, rho?: number, eps?: number, clipnorm?: number}
---@return dagl.nn.Optimizer
function nn.RMSprop(opts) end
---@param labels dagl.Tensor|integer[] integers 0..n-1
---@param n integer
---@return dagl.Tensor
function nn.one_hot(labels, n) end
---@param logits dagl.Tensor
---@param y dagl.Tensor|integer[]
---@return number
function nn.accuracy(logits, y) end
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

return dagl
