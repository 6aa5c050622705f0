# C types for the compiled reader (hatch_build.py); the pure module never reads this file.
import cython

@cython.locals(codes=list, first=cython.int, second=cython.int, group=cython.uint, elem=cython.uint,
               length=cython.Py_ssize_t, end=cython.Py_ssize_t)
cpdef Py_ssize_t _short_run(const unsigned char[::1] data, Py_ssize_t offset, Py_ssize_t stop, Py_ssize_t size,
                            list out) except -1
