--- dagl.grad: reverse-mode automatic differentiation on traced graphs. The backward pass is
-- built from the forward graph's recorded nodes, as more nodes of the same graph (so it runs on
-- the threaded scheduler too, and independent gradient computations run at the same time).
--
--   local vg = dagl.grad(function(x, w) return (x:matmul(w)):tanh():sum() end, {wrt = {w}})
--   local loss, dx, dw = vg(x)      -- value, then d/d(each argument), then d/d(each wrt tensor)
local core = require "dagl.core"
local fn = require "dagl.fn"
local options = require "dagl.options"
local api = require "dagl.api_options"

local node, new_sym, operand = fn.internal.node, fn.internal.new_sym, fn.internal.operand
local same_shape = fn.internal.same_shape

local M = {}

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- Sums g over the dims that broadcasting added or stretched, back to `shape`.
local function unbroadcast(g, shape)
  if same_shape(g.shape, shape) then return g end
  local lead, dims = #g.shape - #shape, {}
  for i = 1, #g.shape do
    if i <= lead or (shape[i - lead] == 1 and g.shape[i] ~= 1) then dims[#dims + 1] = i end
  end
  if #dims > 0 then g = g:sum(dims, true) end
  return g:reshape(shape)
end

-- The reduced dims of a reduction node as a set of 1-based dims of its input (all when none).
local function reduced_dims(params, ndim)
  local set = {}
  local dims = params.dims or {}
  if #dims == 0 then for d = 1, ndim do set[d] = true end end
  for _, d in ipairs(dims) do set[d < 0 and d + ndim + 1 or d + 1] = true end
  return set
end

-- g of a reduction's output, reshaped with the reduced dims kept (size 1) and expanded to `shape`.
local function spread(g, params, shape)
  local set, kept = reduced_dims(params, #shape), {}
  for d = 1, #shape do kept[d] = set[d] and 1 or shape[d] end
  return g:reshape(kept):expand(shape), kept
end

-- Gradient rules: rule(g, out, a, b, params, sources, node record) -> grads of the sources
-- (Syms or nil); a and b are the first two sources.
local rules = {}

function rules.add(g, out, a, b, p)
  if p.scalar then return g end
  return unbroadcast(g, a.shape), unbroadcast(g, b.shape)
end

function rules.sub(g, out, a, b, p)
  if p.scalar then return p.scalar_first and -g or g end
  return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)
end

function rules.mul(g, out, a, b, p)
  if p.scalar then return g * p.scalar end
  return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)
end

function rules.div(g, out, a, b, p)
  if p.scalar then
    if p.scalar_first then return -g * out / a end -- d(s/a) = -s/a^2 = -out/a
    return g / p.scalar
  end
  return unbroadcast(g / b, a.shape), unbroadcast(-g * out / b, b.shape)
end

function rules.pow(g, out, a, b, p)
  if p.scalar then
    if p.scalar_first then return g * out * math.log(p.scalar) end
    return g * p.scalar * a ^ (p.scalar - 1)
  end
  return unbroadcast(g * b * a ^ (b - 1), a.shape), unbroadcast(g * out * a:log(), b.shape)
end

-- maximum/minimum: the gradient goes to the operand that was chosen.
local function pick(cmp)
  return function(g, out, a, b, p)
    if p.scalar then return g * a[cmp](a, p.scalar) end
    local ma = a[cmp](a, b)
    return unbroadcast(g * ma, a.shape), unbroadcast(g * (1 - ma), b.shape)
  end
end
rules.maximum, rules.minimum = pick("ge"), pick("le")

-- remainder: a - floor(a / b) * b, so d/da = 1 and d/db = -floor(a / b) (where it exists).
function rules.remainder(g, out, a, b, p)
  if p.scalar then
    if p.scalar_first then return -g * core.floor_divide(p.scalar, a) end
    return g
  end
  return unbroadcast(g, a.shape), unbroadcast(-g * a:floor_divide(b), b.shape)
end

function rules.neg(g) return -g end
function rules.exp(g, out) return g * out end
function rules.log(g, out, a) return g / a end
function rules.sqrt(g, out) return g / (out * 2) end
function rules.abs(g, out, a) return g * (a:gt(0) - a:lt(0)) end
function rules.tanh(g, out) return g * (1 - out * out) end
function rules.sigmoid(g, out) return g * out * (1 - out) end
-- relu: the mask from the output (out > 0 exactly where a > 0), so the input need not stay alive
-- and the graph can fuse the add before the relu into a GEMM or convolution (graph/fuse.c).
function rules.relu(g, out) return g * out:gt(0) end
-- softmax: y (g - sum(g y)) and log_softmax: g - e^y sum(g), the sums along the node's dim.
local function softmax_dim(p) return p.axis >= 0 and p.axis + 1 or p.axis end
function rules.softmax(g, out, a, _, p) return out * (g - (g * out):sum(softmax_dim(p), true)) end
function rules.log_softmax(g, out, a, _, p) return g - out:exp() * g:sum(softmax_dim(p), true) end
function rules.erf(g, out, a) return g * (-(a * a)):exp() * (2 / math.sqrt(math.pi)) end
function rules.sin(g, out, a) return g * a:cos() end
function rules.cos(g, out, a) return -(g * a:sin()) end
-- cast: the gradient goes back in the source's dtype (times the scale of a scaled cast).
function rules.cast(g, out, a, _, p) return (p.scalar and g * p.scalar or g):to(a:dtype()) end

-- slice: the gradient lands at the slice's elements of a zero tensor (slice_scatter), and the
-- gradient of that is the same slice again.
function rules.slice(g, out, a, _, p)
  return node(g.tracer, "slice_scatter", {g.id}, {shape = a.shape, axis = p.axis, start = p.start, step = p.step})
end
function rules.slice_scatter(g, out, a, _, p)
  local stop = p.start + a.shape[p.axis + 1] * p.step
  return node(g.tracer, "slice", {g.id}, {axis = p.axis, start = p.start, stop = stop, step = p.step})
end

-- concat: each operand gets its stretch of g along the joined dim.
function rules.concat(g, out, a, b, p, s)
  local grads, off = {}, 0
  for k, src in ipairs(s) do
    local len = src.shape[p.axis + 1]
    grads[k] = node(g.tracer, "slice", {g.id}, {axis = p.axis, start = off, stop = off + len, step = 1})
    off = off + len
  end
  return table.unpack(grads, 1, #s)
end

-- gather (embeddings): rows of g summed into a zero table; none for the indices. index_add's
-- gradient is the gather back.
function rules.gather(g, out, tbl, idx, p)
  return node(g.tracer, "index_add", {g.id, idx.id}, {shape = {tbl.shape[1]}, index_base = p.index_base})
end
function rules.index_add(g, out, src, idx, p)
  return node(g.tracer, "gather", {g.id, idx.id}, {index_base = p.index_base})
end

-- cumsum: each input element reaches the sums from its place on, so its gradient is g summed
-- from the other end (the same dim, the other direction).
function rules.cumsum(g, out, a, _, p)
  return node(g.tracer, "cumsum", {g.id}, {axis = p.axis, reverse = not p.reverse})
end
-- take_along (t:gather): g lands at the indices of a zero tensor of x's shape (scatter_add);
-- scatter_add: g passes to the base tensor, and the values get g at their indices (take_along).
function rules.take_along(g, out, x, idx, p)
  local zeros = fn.lift(g, core.zeros(x.shape, x:dtype()))
  return node(g.tracer, "scatter_add", {zeros.id, idx.id, g.id}, {axis = p.axis, index_base = p.index_base})
end
function rules.scatter_add(g, out, x, idx, p, s)
  local src = s[3]
  if not same_shape(idx.shape, src.shape) then
    error(("dagl.grad: scatter_add's gradient for its values needs indices of their shape (indices [%s], values [%s])")
      :format(table.concat(idx.shape, ", "), table.concat(src.shape, ", ")), 0)
  end
  return g, nil, node(g.tracer, "take_along", {g.id, idx.id}, {axis = p.axis, index_base = p.index_base})
end

function rules.clamp(g, out, a, b, p)
  local mask = a:ge(a) -- ones, with a's shape and dtype
  if p.lo then mask = mask * a:ge(p.lo) end
  if p.hi then mask = mask * a:le(p.hi) end
  return g * mask
end

function rules.where(g, out, c, a, p, s)
  local b = s[3]
  return nil, unbroadcast(fn.where(c, g, 0), a.shape), unbroadcast(fn.where(c, 0, g), b.shape)
end

function rules.sum(g, out, a, _, p) return (spread(g, p, a.shape)) end

function rules.mean(g, out, a, _, p)
  local ge, kept = spread(g, p, a.shape)
  return ge / (numel(a.shape) / numel(kept))
end

-- max/min: split evenly between the elements equal to the extreme (as torch.amax does).
local function extreme(g, out, a, _, p)
  local ge = spread(g, p, a.shape)
  local oe = spread(out, p, a.shape)
  local mask = a:eq(oe)
  local dims = {}
  for d in pairs(reduced_dims(p, #a.shape)) do dims[#dims + 1] = d end
  local count = spread(mask:sum(dims), p, a.shape)
  return ge * mask / count
end
rules.max, rules.min = extreme, extreme

function rules.var(g, out, a, _, p)
  local ge, kept = spread(g, p, a.shape)
  local n = numel(a.shape) / numel(kept)
  local dims = {}
  for d in pairs(reduced_dims(p, #a.shape)) do dims[#dims + 1] = d end
  local mean = a:mean(dims, true)
  return ge * (a - mean) * (2 / (n - (p.correction or 1)))
end

-- matmul: 1-D operands are made 2-D (and the gradient shaped back); batch dims unbroadcast.
function rules.matmul(g, out, a, b)
  local a2 = #a.shape == 1 and a:reshape(1, a.shape[1]) or a
  local b2 = #b.shape == 1 and b:reshape(b.shape[1], 1) or b
  -- g has the product's shape with the 1-D operands' dims dropped: put them back as size 1
  local gshape = {table.unpack(g.shape)}
  if #a.shape == 1 then table.insert(gshape, #gshape + (#b.shape == 1 and 1 or 0), 1) end
  if #b.shape == 1 then gshape[#gshape + 1] = 1 end
  local g2 = g:reshape(gshape)
  local ga = unbroadcast(g2:matmul(b2:transpose()), a2.shape):reshape(a.shape)
  local gb = unbroadcast(a2:transpose():matmul(g2), b2.shape):reshape(b.shape)
  return ga, gb
end

function rules.reshape(g, out, a) return g:reshape(a.shape) end
function rules.expand(g, out, a) return unbroadcast(g, a.shape) end

function rules.permute(g, out, a, _, p)
  local inv = {}
  for i, d in ipairs(p.dims) do inv[d + 1] = i end
  return g:permute(inv)
end

-- 2-D windows: the gradient ops of the C core, with the forward node's window; the conv
-- gradients also take the shape of the operand they are for.
local function window_grad(op, g, srcs, p, shape)
  local q = {pool_size = p.pool_size, strides = p.strides, padding = p.padding, shape = shape}
  return node(g.tracer, op, srcs, q)
end

function rules.conv2d(g, out, x, k, p)
  return window_grad("conv2d_grad_input", g, {g.id, k.id}, p, x.shape),
         window_grad("conv2d_grad_kernel", g, {x.id, g.id}, p, k.shape)
end
-- conv2d_grad_input taken as an op (conv2d_transpose, Conv2DTranspose): linear in its first
-- source (the transposed product), so that source's gradient is the convolution of g, and the
-- kernel's is conv2d's kernel gradient with g as the input and the source as the output gradient.
function rules.conv2d_grad_input(g, out, dy, k, p)
  return window_grad("conv2d", g, {g.id, k.id}, p, nil), window_grad("conv2d_grad_kernel", g, {g.id, dy.id}, p, k.shape)
end
function rules.max_pool2d(g, out, x, _, p) return window_grad("max_pool2d_grad", g, {x.id, g.id}, p) end
function rules.avg_pool2d(g, out, x, _, p) return window_grad("avg_pool2d_grad", g, {x.id, g.id}, p) end

-- The node that computes the gradient of input k of Lua node `op` (made once per input): a Lua
-- node running the user's backward itself and keeping its k-th result, so per-worker states load
-- backward as they load forward (bytecode, or module= and backward_fn=); no closure of dagl's,
-- which they could not receive, stands between.
local function backward_op(op, k)
  op.backward_nodes = op.backward_nodes or {}
  local bw = op.backward_nodes[k]
  if not bw then
    bw = {name = op.name .. "_grad" .. k, handle = core.luaop_new(op, k)}
    op.backward_nodes[k] = bw
  end
  return bw
end

-- Lua nodes with a Lua backward: backward(g, x1, ..., out) returns the inputs' gradients; one
-- Lua node per input computes them at run time (under the VM lock in global mode, in the
-- workers' own lua_States in per-worker mode).
function rules.custom(g, out, a, b, p, srcs, rec)
  local op = rec.luaop
  if not op.backward then
    error(("dagl.grad: luaop '%s' has no backward"):format(op.name), 0)
  end
  local args = {g}
  for j = 1, #rec.srcs do args[#args + 1] = srcs[j] end
  args[#args + 1] = out
  local grads = {}
  for k, src in ipairs(srcs) do
    grads[k] = fn.custom_node(g.tracer, backward_op(op, k), {shape = src.shape, dtype = src:dtype()},
                              table.unpack(args))
  end
  return table.unpack(grads, 1, #rec.srcs)
end

-- No gradient flows through comparisons and index results.
-- nor through assign (an update of a real tensor, not a function of its value).
-- floor_divide is piecewise constant: its gradient is zero wherever it exists.
for _, op in ipairs {"eq", "ne", "lt", "le", "gt", "ge", "argmax", "argmin", "argsort", "dropout_mask", "assign",
                     "floor_divide"} do
  rules[op] = function() return nil end
end

--- Builds the backward pass of the scalar symbol y inside its trace; returns the gradient symbol
-- of each node id in `wrt` (zeros where y does not depend on it).
function M.backward(y, wrt)
  local tr = y.tracer
  if numel(y.shape) ~= 1 then
    error(("dagl.grad: the function must return a single value, got shape [%s]"):format(table.concat(y.shape, ", ")), 3)
  end
  local grads = {[y.id] = new_sym(tr, operand(tr, core.ones(y.shape, y:dtype())))}
  local syms = {}
  local function sym(id)
    syms[id] = syms[id] or new_sym(tr, id)
    return syms[id]
  end
  local function add(id, gk) grads[id] = grads[id] and grads[id] + gk or gk end
  -- Gradients of unit-step slices of a node wait here (pending[src] = list of {axis, start, g})
  -- until every consumer of the node has given its part: slices of one axis that do not overlap
  -- (an RNN's steps of its input projection, the gates of a step) then join as one concat with
  -- zeros in the gaps, instead of one full-size slice_scatter and one add per slice (T^2 work
  -- for T steps).
  local pending = {}
  local function settle(id)
    local list = pending[id]
    if not list then return end
    pending[id] = nil
    local by_axis, axes = {}, {}
    for _, piece in ipairs(list) do
      if not by_axis[piece.axis] then by_axis[piece.axis], axes[#axes + 1] = {}, piece.axis end
      table.insert(by_axis[piece.axis], piece)
    end
    table.sort(axes)
    local shape = sym(id).shape
    for _, axis in ipairs(axes) do
      local pieces = by_axis[axis]
      table.sort(pieces, function(a, b) return a.start < b.start or (a.start == b.start and a.n < b.n) end)
      local parts, at = {}, 0
      local function zeros(len)
        local zs = {table.unpack(shape)}
        zs[axis + 1] = len
        return fn.lift(pieces[1].g, core.zeros(zs, pieces[1].g:dtype()))
      end
      for _, piece in ipairs(pieces) do
        if piece.start < at then -- overlaps the one before: added the plain way
          add(id, rules.slice(piece.g, nil, sym(id), nil, {axis = axis, start = piece.start, step = 1}))
        else
          if piece.start > at then parts[#parts + 1] = zeros(piece.start - at) end
          parts[#parts + 1] = piece.g
          at = piece.start + piece.n
        end
      end
      if at < shape[axis + 1] then parts[#parts + 1] = zeros(shape[axis + 1] - at) end
      add(id, #parts == 1 and parts[1] or fn.concat(parts, axis + 1))
    end
  end
  for id = y.id, 0, -1 do
    settle(id)
    local g, rec = grads[id], tr.rec[id]
    if g and rec and rec.op == "slice" and (rec.params.step or 1) == 1 then
      local src, axis = rec.srcs[1], rec.params.axis
      pending[src] = pending[src] or {}
      table.insert(pending[src], {axis = axis, start = rec.params.start, n = g.shape[axis + 1], g = g})
    elseif g and rec then
      local rule = rules[rec.op]
      if not rule then error(("dagl.grad: no gradient for op '%s'"):format(rec.op), 3) end
      local s = {}
      for k, src in ipairs(rec.srcs) do s[k] = sym(src) end
      local gs = table.pack(rule(g, sym(id), s[1], s[2], rec.params, s, rec))
      for k, src in ipairs(rec.srcs) do
        local gk = gs[k]
        if gk then add(src, gk) end
      end
    end
  end
  local out = {}
  for i, id in ipairs(wrt) do
    out[i] = grads[id] or sym(id):mul(0)
  end
  return out
end

-- wrt: one tensor or a list of them; argnums: one argument number (1-based) or a list of them,
-- as JAX's argnums. Both are lists after the check.
local tensor_list = api.list_of(core.is_tensor, "a tensor or a list of tensors (the weights f uses)", true)
local arg_numbers = api.list_of(function(i) return math.type(i) == "integer" and i >= 1 end,
  "an argument number (1-based) or a list of them ({} for none)", true)

local grad_options = options.declare {name = "dagl.grad", path = "dagl.grad",
  probe = function(o) return M.grad(function(x) return x:sum() end, o) end,
  {"wrt", tensor_list, default = {}, doc = "tensors f uses (weights) to differentiate with respect to, after the arguments"},
  {"argnums", arg_numbers, doc = "the arguments to differentiate with respect to (default: all; {} for none)"},
}

--- dagl.grad(f [, {wrt = {tensors...}, argnums = {i, ...}}]): a callable returning f's value,
-- then its gradient with respect to each argument (or only those listed in argnums), then with
-- respect to each `wrt` tensor (weights f uses). Traced and compiled once per input signature,
-- like dagl.fn; backward work that no requested gradient needs is dropped before it runs.
-- Auxiliary outputs: values f returns after the first are returned last, after the gradients,
-- and are not differentiated (a training step returns metrics and BatchNorm updates this way).
-- The options are checked here, at the call (an argument number past the arguments f gets
-- raises when f is traced).
function M.grad(f, opts, ...)
  api.at_most("dagl.grad", "(f, {options})", 2, 1, f, opts, ...)
  if not options.callable(f) then error("dagl.grad: f must be a function, got " .. options.show(f), 2) end
  local o = grad_options:check(opts, 1)
  local wrt, argnums = o.wrt, o.argnums
  return fn.fn(function(...)
    local args = table.pack(...)
    local outs = table.pack(f(...))
    local y = outs[1]
    if not fn.is_symbol(y) then error("dagl.grad: the function must return a tensor computed from its arguments", 2) end
    local tr = y.tracer
    local ids = {}
    if argnums then
      for _, i in ipairs(argnums) do
        if i > args.n then
          api.user_error(("dagl.grad: argnums lists argument %d, but f was called with %d argument%s"):format(i,
            args.n, args.n == 1 and "" or "s"))
        end
        ids[#ids + 1] = args[i].id
      end
    else
      for i = 1, args.n do ids[i] = args[i].id end
    end
    for _, w in ipairs(wrt) do ids[#ids + 1] = operand(tr, w) end
    local res = M.backward(y, ids)
    table.insert(res, 1, y)
    local n = #res
    table.move(outs, 2, outs.n, n + 1, res)
    return table.unpack(res, 1, n + outs.n - 1)
  end)
end

return M
