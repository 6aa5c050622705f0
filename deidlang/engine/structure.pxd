# C types for the compiled structure check (hatch_build.py); the pure module never reads this file.
import cython

@cython.locals(codes=list, watched=frozenset, first=cython.int, second=cython.int, group=cython.uint,
               tag=cython.longlong, end=cython.Py_ssize_t)
cpdef tuple _short_run(const unsigned char[::1] data, Py_ssize_t offset, Py_ssize_t stop, long long last)
