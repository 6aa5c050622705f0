# C types for the compiled structure check (hatch_build.py); the pure module never reads this file.
import cython

@cython.locals(codes=list, watched=frozenset, first=cython.int, second=cython.int, group=cython.uint,
               tag=cython.longlong, end=cython.Py_ssize_t)
cpdef tuple _short_run(const unsigned char[::1] data, Py_ssize_t offset, Py_ssize_t stop, long long last)


cdef class _Reader:
    cdef public object data
    cdef const unsigned char[::1] view
    cdef public bint implicit, little, un_sequences, found
    cdef public Py_ssize_t max_depth

    @cython.locals(group=cython.uint, elem=cython.uint, tag=cython.longlong, first=cython.int, second=cython.int)
    cpdef tuple header(self, Py_ssize_t offset, Py_ssize_t stop)

    cpdef unsigned int u16(self, Py_ssize_t offset) except? 0xFFFFFFFF

    @cython.locals(first=cython.ulonglong, second=cython.ulonglong, third=cython.ulonglong, fourth=cython.ulonglong)
    cpdef unsigned long long u32(self, Py_ssize_t offset) except? 0xFFFFFFFFFFFFFFFF

    @cython.locals(last=cython.longlong, tag=cython.longlong, value=cython.Py_ssize_t, length=cython.Py_ssize_t,
                   end=cython.Py_ssize_t, pixels=cython.bint, short=cython.bint)
    cpdef Py_ssize_t dataset(self, Py_ssize_t offset, Py_ssize_t stop, Py_ssize_t depth, bint delimited) except -1
