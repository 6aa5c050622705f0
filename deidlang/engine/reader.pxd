# C types for the compiled reader (hatch_build.py); the pure module never reads this file.
import cython

@cython.locals(codes=list, first=cython.int, second=cython.int, group=cython.uint, elem=cython.uint,
               length=cython.Py_ssize_t, end=cython.Py_ssize_t)
cpdef Py_ssize_t _short_run(const unsigned char[::1] data, Py_ssize_t offset, Py_ssize_t stop, Py_ssize_t size,
                            list out) except -1


cdef class ElementReader:
    cdef public object data, implicit_vrs
    cdef const unsigned char[::1] view
    cdef public Py_ssize_t size
    cdef public bint implicit
    cdef public long pixel_rep

    @cython.locals(group=cython.uint, elem=cython.uint, tag=cython.longlong, first=cython.int, second=cython.int,
                   length=cython.ulonglong, value=cython.Py_ssize_t)
    cpdef tuple _header(self, Py_ssize_t offset)

    @cython.locals(first=cython.ulonglong, second=cython.ulonglong, third=cython.ulonglong, fourth=cython.ulonglong)
    cpdef unsigned long long _u32(self, Py_ssize_t offset) except? 0xFFFFFFFFFFFFFFFF
