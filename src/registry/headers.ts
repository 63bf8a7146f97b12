// HTTP header names and values of the distribution spec
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md). Spec strings live here.

export const HEADER_DOCKER_CONTENT_DIGEST = 'docker-content-digest';
export const HEADER_DOCKER_UPLOAD_UUID = 'docker-upload-uuid';
/** Returned on a manifest PUT with a `subject` by registries that maintain the referrers API (spec "Pushing Manifests with Subject"). */
export const HEADER_OCI_SUBJECT = 'oci-subject';
/** Set when the registry applied the `artifactType` filter of a referrers query (spec "Listing Referrers"). */
export const HEADER_OCI_FILTERS_APPLIED = 'oci-filters-applied';
export const HEADER_WWW_AUTHENTICATE = 'www-authenticate';
export const HEADER_RETRY_AFTER = 'retry-after';
export const HEADER_LOCATION = 'location';
export const HEADER_LINK = 'link';
export const HEADER_RANGE = 'range';
export const HEADER_CONTENT_RANGE = 'content-range';
export const HEADER_CONTENT_TYPE = 'content-type';
export const HEADER_CONTENT_LENGTH = 'content-length';

/** Largest error body parsed into a RegistryError. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Largest tag list / catalog / referrers page read into memory. */
export const MAX_LIST_BODY_BYTES = 16 * 1024 * 1024;
/** Largest token response. */
export const MAX_TOKEN_BODY_BYTES = 1024 * 1024;
