// `wick serve --share-cache`: GET /v1/blobs/{sha256} hands out a blob of this machine's hub
// cache, so that other wick instances (`wick pull --peer`) fetch models over the LAN instead of
// from the hub. Read-only, only what the cache holds under that hash, with Range (a peer
// resumes and splits downloads like the hub's CDN); the puller checks every byte against the
// sha256 the hub gives, so a peer is trusted with nothing.
#pragma once

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace wick::hub {
class HubCache;
}

namespace wick::server {

void ServeCachedBlob(const httplib::Request& req, httplib::Response& res,
                     const hub::HubCache& cache);

}  // namespace wick::server
