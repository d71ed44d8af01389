// Typed wrappers around libcurl's variadic functions, which Swift cannot call directly.
#ifndef BEDSIDE_CCURL_SHIM_H
#define BEDSIDE_CCURL_SHIM_H

#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*bedside_curl_write_callback)(char *data, size_t size, size_t count, void *userdata);
typedef size_t (*bedside_curl_read_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*bedside_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);

static inline CURLcode bedside_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bedside_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bedside_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bedside_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode bedside_curl_setopt_write_function(CURL *handle, bedside_curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode bedside_curl_setopt_header_function(CURL *handle, bedside_curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

static inline CURLcode bedside_curl_setopt_read_function(CURL *handle, bedside_curl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

/* Lets libcurl rewind an upload, which it must do to send a request again on a fresh connection
   when a kept-alive one turns out to be dead. */
static inline CURLcode bedside_curl_setopt_seek_function(CURL *handle, bedside_curl_seek_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, callback);
}

static inline CURLcode bedside_curl_setopt_postfields_size(CURL *handle, curl_off_t size) {
    return curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, size);
}

/* An option whose value is a curl_off_t (CURLOPT_MAXFILESIZE_LARGE, ...). */
static inline CURLcode bedside_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/* A blob option (CURLOPT_CAINFO_BLOB, ...): libcurl keeps its own copy. */
static inline CURLcode bedside_curl_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob = { (void *)data, length, CURL_BLOB_COPY };
    return curl_easy_setopt(handle, option, &blob);
}

/// The one TLS and timeout policy of every Bedside connection, the client's HTTPS and the server's
/// SMTP alike: certificates and host names verified, TLS 1.2 at least, no signals, bounded waits.
/// Returns the first option libcurl refused, or CURLE_OK.
static inline CURLcode bedside_curl_secure_defaults(CURL *handle, long connect_timeout_seconds, long total_timeout_seconds) {
    CURLcode result;
    if ((result = curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L)) != CURLE_OK) return result;
    if ((result = curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L)) != CURLE_OK) return result;
    if ((result = curl_easy_setopt(handle, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2)) != CURLE_OK) return result;
    if ((result = curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK) return result;
    if ((result = curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, connect_timeout_seconds)) != CURLE_OK) return result;
    return curl_easy_setopt(handle, CURLOPT_TIMEOUT, total_timeout_seconds);
}

static inline CURLcode bedside_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode bedside_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
