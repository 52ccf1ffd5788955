declare const __SFAUTH_VERSION__: string;

/** Set by the build (scripts/build.mjs); tests running the sources see the dev marker. */
export const VERSION: string = typeof __SFAUTH_VERSION__ === 'string' ? __SFAUTH_VERSION__ : '0.0.0-dev';
