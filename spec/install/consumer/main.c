/* An out-of-tree program: core tensors through dagl.h, and Lua through dagl_lua.h, from an
 * installed dagl. Prints "ok" and exits 0 when both agree. */
#include <stdio.h>

#include <dagl_lua.h>

int main(void)
{
    dagl_runtime *rt;
    if (dagl_runtime_new(NULL, &rt)) return fprintf(stderr, "%s\n", dagl_runtime_last_error(rt)), 1;
    dagl_model *m;
    dagl_session *s;
    if (dagl_runtime_dostring(rt, "double = function(x) return x * 2 + 1 end") ||
        dagl_model_load(rt, "double", &m) || dagl_session_new(m, &s))
        return fprintf(stderr, "%s\n", dagl_runtime_last_error(rt)), 1;
    dagl_tensor *x;
    if (dagl_arange(dagl_runtime_ctx(rt), DAGL_F32, 0, 3, 1, &x)) return 1;
    float y[3];
    if (dagl_session_set_input_tensor(s, 0, x) || dagl_session_run(s) || dagl_session_read_output(s, 0, y, sizeof y))
        return fprintf(stderr, "%s\n", dagl_session_last_error(s)), 1;
    int ok = y[0] == 1 && y[1] == 3 && y[2] == 5;
    printf("%s: %g %g %g\n", ok ? "ok" : "WRONG", y[0], y[1], y[2]);
    dagl_tensor_release(x);
    dagl_session_free(s);
    dagl_model_free(m);
    dagl_runtime_free(rt);
    return ok ? 0 : 1;
}
