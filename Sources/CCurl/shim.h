#ifndef PORTAL_CCURL_SHIM_H
#define PORTAL_CCURL_SHIM_H

// `curl_easy_setopt` and `curl_easy_getinfo` are C variadic functions, which
// Swift cannot call. Each wrapper below passes exactly one argument type, so
// the value that reaches libcurl has the type the option documents.

#include <curl/curl.h>

/// Options that take a `long` (timeouts, flags, POST, NOSIGNAL, ...).
static inline CURLcode portal_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// Options that take a `curl_off_t` (CURLOPT_POSTFIELDSIZE_LARGE, ...).
static inline CURLcode portal_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// Options that take a NUL-terminated string; libcurl copies it
/// (CURLOPT_URL, CURLOPT_CUSTOMREQUEST, CURLOPT_USERAGENT, ...).
static inline CURLcode portal_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Options that take an opaque pointer (CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, ...).
static inline CURLcode portal_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Options that take a header list (CURLOPT_HTTPHEADER, ...). The list must
/// outlive the transfer.
static inline CURLcode portal_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/// The signature of CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION.
typedef size_t (*portal_curl_data_callback)(char *data, size_t size, size_t count, void *context);

/// Sets CURLOPT_WRITEFUNCTION and CURLOPT_WRITEDATA: the response body.
static inline CURLcode portal_curl_set_write_callback(CURL *handle, portal_curl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_WRITEDATA, context);
}

/// Sets CURLOPT_HEADERFUNCTION and CURLOPT_HEADERDATA: one call per header line.
static inline CURLcode portal_curl_set_header_callback(CURL *handle, portal_curl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_HEADERDATA, context);
}

/// Information of type `long` (CURLINFO_RESPONSE_CODE, ...).
static inline CURLcode portal_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
