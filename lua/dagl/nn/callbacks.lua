--- dagl.nn.callbacks: early stopping and the CSV logger.
local nn = require "dagl.nn.base"
--- Callbacks are functions(epoch, logs, model) run after each epoch; returning false stops fit.
nn.callbacks = {}

--- Stops when `monitor` (default "val_loss") has not improved by min_delta for `patience` epochs.
function nn.callbacks.early_stopping(opts)
  opts = opts or {}
  local monitor, patience, delta = opts.monitor or "val_loss", opts.patience or 3, opts.min_delta or 0
  local higher = monitor:find("accuracy") ~= nil
  local best, waited = nil, 0
  return function(epoch, logs)
    local v = logs[monitor]
    if v == nil then error(("early_stopping: no '%s' in the logs (is there validation data?)"):format(monitor)) end
    if best == nil or (higher and v > best + delta) or (not higher and v < best - delta) then
      best, waited = v, 0
    else
      waited = waited + 1
      if waited >= patience then return false end
    end
  end
end

--- Appends one CSV row per epoch (epoch and every log value) to `path`.
function nn.callbacks.csv_logger(path)
  local keys = {"loss", "accuracy", "val_loss", "val_accuracy"}
  return function(epoch, logs)
    local f = assert(io.open(path, epoch == 1 and "w" or "a"))
    if epoch == 1 then f:write("epoch," .. table.concat(keys, ",") .. "\n") end
    local row = {epoch}
    for _, k in ipairs(keys) do row[#row + 1] = logs[k] and ("%.6g"):format(logs[k]) or "" end
    f:write(table.concat(row, ",") .. "\n")
    f:close()
  end
end
