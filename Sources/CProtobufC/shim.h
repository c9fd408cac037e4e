#ifndef PORTAL_CPROTOBUFC_SHIM_H
#define PORTAL_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
