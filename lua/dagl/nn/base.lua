--- dagl.nn.base: the one nn table that every part of dagl.nn (layer, core_layers, losses, ...)
-- adds its names to; `require "dagl.nn"` loads the parts and returns it.
return {}
