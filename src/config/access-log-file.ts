// Kept apart from the MeshConfig schema so workers read it without loading zod.

/** The one access log destination meshgate writes (MeshConfig accessLogFile). */
export const accessLogStdout = '/dev/stdout';
