/*
 * A HotSpot disassembler plugin (hsdis) on Capstone, for reading the JIT's code:
 * -XX:+PrintAssembly, -XX:CompileCommand=print,... and JMH's -prof perfasm.
 *
 * Why it is here: the JDK ships no hsdis, and Debian's libhsdis0-fcml exports only the old entry
 * point (decode_instructions), which JDK 25 no longer calls. HotSpot looks up
 * decode_instructions_virtual in hsdis-amd64.so (in the JDK's lib directory or on
 * LD_LIBRARY_PATH); this file implements that one function over Capstone, in Intel syntax.
 * Build it with ./build next to this file.
 */
#include <capstone/capstone.h>
#include <stddef.h>
#include <stdint.h>

typedef void *(*event_callback_t)(void *stream, const char *event, void *arg);
typedef int (*printf_callback_t)(void *stream, const char *format, ...);

/*
 * Disassembles [start_va, end_va), whose bytes are at buffer. For each instruction HotSpot wants an
 * "insn" event with its address (where it prints the address and its own annotations), the text
 * through printf_callback, then "/insn" with the address after it. Returns where decoding stopped.
 */
void *decode_instructions_virtual(uintptr_t start_va, uintptr_t end_va, unsigned char *buffer, uintptr_t length,
                                  event_callback_t event_callback, void *event_stream,
                                  printf_callback_t printf_callback, void *printf_stream,
                                  const char *options, int newline) {
    (void) end_va;
    (void) options;
    csh handle;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        return NULL;
    }
    cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
    cs_insn *insn;
    size_t count = cs_disasm(handle, buffer, length, start_va, 0, &insn);
    uintptr_t end = start_va;
    for (size_t i = 0; i < count; i++) {
        uintptr_t at = (uintptr_t) insn[i].address;
        if (event_callback != NULL) {
            event_callback(event_stream, "insn", (void *) at);
        }
        printf_callback(printf_stream, "%s\t%s", insn[i].mnemonic, insn[i].op_str);
        end = at + insn[i].size;
        if (event_callback != NULL) {
            event_callback(event_stream, "/insn", (void *) end);
        }
        if (newline) {
            printf_callback(printf_stream, "\n");
        }
    }
    if (count > 0) {
        cs_free(insn, count);
    }
    cs_close(&handle);
    return (void *) end;
}
