--- dagl.nn.shared: what the parts of dagl.nn share that is not public (the common option lists
-- of layers, Keras's fans of a weight shape, the feature-axis option type).
return {}
