import test from 'ava';
import { resolveShortName } from '../../src/config/fqdn.js';

test('a short name is qualified with the namespace and cluster domain', (t) => {
  t.is(resolveShortName('reviews', 'bookinfo'), 'reviews.bookinfo.svc.cluster.local');
  t.is(resolveShortName('Reviews', 'prod', 'corp.internal'), 'reviews.prod.svc.corp.internal');
});

test('names with a dot, "*", IP addresses and the empty name stay as they are (lower-cased)', (t) => {
  t.is(resolveShortName('reviews.other', 'bookinfo'), 'reviews.other');
  t.is(resolveShortName('API.Example.com', 'bookinfo'), 'api.example.com');
  t.is(resolveShortName('*.example.com', 'bookinfo'), '*.example.com');
  t.is(resolveShortName('*', 'bookinfo'), '*');
  t.is(resolveShortName('::1', 'bookinfo'), '::1');
  t.is(resolveShortName('', 'bookinfo'), '');
});
