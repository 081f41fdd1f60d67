-- words_lstm.lua -- a character-level language model of English words: an LSTM reads a word one
-- letter at a time and predicts the next letter, trained on /usr/share/dict/words (Debian's
-- wamerican), then samples new words letter by letter. Embedding(28, 32) -> LSTM(128,
-- return_sequences) -> Dense(28, softmax) on every step; padding is the ignored class 0 of the
-- loss (Keras's ignore_class). Prints the loss per epoch, then sampled words and how many of them
-- are real words or look like them (pronounceable: no run of 4 consonants).
--   build/dagl examples/words_lstm.lua [epochs=4] [samples=20]
local dagl = require "dagl"
local nn = dagl.nn

local epochs = math.tointeger(tonumber(arg[1])) or 4
local nsamples = math.tointeger(tonumber(arg[2])) or 20
local L = 12 -- steps: "." + up to 11 letters (words of 3 to 11 letters)

local path = "/usr/share/dict/words"
local h = io.open(path)
if not h then error(("words_lstm: %s is missing: install Debian's wamerican (apt-get install wamerican)"):format(path), 0) end
local words, known = {}, {}
for w in h:lines() do
  if w:match("^%l+$") and #w >= 3 and #w <= L - 1 then
    words[#words + 1] = w
    known[w] = true
  end
end
h:close()

-- tokens: 0 padding (ignored by the loss), 1 "." (start and end), 2..27 the letters a..z
local function tok(c) return c:byte() - 95 end
local function letter(t) return string.char(t + 95) end
local n = #words
local xs, ys = {}, {}
for i, w in ipairs(words) do
  local x, y = {1}, {}
  for c in w:gmatch(".") do x[#x + 1], y[#y + 1] = tok(c), tok(c) end
  y[#y + 1] = 1
  for k = #x + 1, L do x[k] = 0 end
  for k = #y + 1, L do y[k] = 0 end
  xs[i], ys[i] = x, y
end
local x, y = dagl.tensor(xs, "int64"), dagl.tensor(ys, "int64")
print(("words_lstm: %d words of 3 to %d letters from %s, %d thread(s)"):format(n, L - 1, path, dagl.num_threads()))

math.randomseed(3)
local model = nn.Sequential {
  nn.Embedding(28, 32, {input_shape = {L}}),
  nn.LSTM(128, {return_sequences = true}),
  nn.Dense(28, "softmax"),
}
model:compile {optimizer = nn.Adam {learning_rate = 0.005},
               loss = nn.losses.SparseCategoricalCrossentropy {ignore_class = 0}}
model:fit(x, y, {epochs = epochs, batch_size = 256})

-- sampling: the word so far (padded) through the model; the next letter drawn from the
-- prediction at the last letter's step, sharpened by a temperature of 0.8
local function sample()
  local seq = {1}
  while #seq < L do
    local row = {}
    for k = 1, L do row[k] = seq[k] or 0 end
    local p = model:predict(dagl.tensor({row}, "int64"))[1][#seq]
    local w, total = {}, 0
    for t = 1, 27 do
      w[t] = math.exp(math.log(math.max(p[t + 1], 1e-12)) / 0.8)
      total = total + w[t]
    end
    local r, pick = math.random() * total, 27
    for t = 1, 27 do
      r = r - w[t]
      if r <= 0 then pick = t break end
    end
    if pick == 1 then break end -- "." ends the word
    seq[#seq + 1] = pick
  end
  local s = {}
  for k = 2, #seq do s[#s + 1] = letter(seq[k]) end
  return table.concat(s)
end
local real, plausible, out = 0, 0, {}
for i = 1, nsamples do
  local w = sample()
  out[i] = w
  if known[w] then real = real + 1 end
  if #w >= 2 and not w:find("[^aeiouy][^aeiouy][^aeiouy][^aeiouy]") and w:find("[aeiouy]") then plausible = plausible + 1 end
end
print("sampled: " .. table.concat(out, " "))
print(("%d of %d are dictionary words, %d of %d look pronounceable"):format(real, nsamples, plausible, nsamples))
