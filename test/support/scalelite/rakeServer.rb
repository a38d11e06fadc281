# frozen_string_literal: true

# A preloaded rake.rb, as Spring preloads a Rails app: loads rake.rb's libraries once (and what Scalelite's files
# load of them: libraries.rb), then runs each call of rakeClient.rb in a fork of itself. Loading them is about 0.5 s
# of CPU a call, most of what the Scalelite-heavy tests spend (docs/testing.md); a fork is a few milliseconds. The
# call itself is unchanged: the child takes the client's stdin, stdout, stderr, environment, directory and
# arguments, then loads rake.rb as `ruby rake.rb` would, so Scalelite's own code still runs in a fresh process per
# call.
#
#   ruby rakeServer.rb DIR [TABULO_TREE]
#       listens on DIR/rake.sock, prints "ready"; when its stdin closes (its test process has ended) it ends its
#       calls and removes DIR. With the pinned Tabulo tree, Tabulo (a library, not Scalelite's code) is loaded
#       too: rake.rb's `require 'tabulo'` from the same lib/ then loads nothing (about 0.05 s of CPU a call).
#
# Protocol (a Unix socket, one connection a call): the client sends its fds 0, 1 and 2 (send_io), then one
# JSON line {"argv": [...], "env": {...}, "cwd": dir}. The server answers "pid N" once the call runs (the
# client forwards its signals there), then "exit N" or "signal NAME" when it is over. A client that goes away
# first takes its call with it (SIGKILL), as a killed `ruby rake.rb` would end.
require 'fileutils'
require 'json'
require 'set'
require 'socket'
require_relative 'libraries'

(LIBRARIES + DATABASE_LIBRARIES + PRELOADED_FILES).each { |library| require library }
PRELOADED_CONSTANTS.each { |name| Object.const_get(name) }
Time.find_zone!(RAILS_TIME_ZONE)
if ARGV[1]
  $LOAD_PATH.unshift(File.join(ARGV[1], 'lib'))
  require 'tabulo'
end

RAKE_RB = File.join(__dir__, 'rake.rb')

# In the fork: the call, in the client's streams, environment, directory and arguments.
def run_call(connection, streams, request)
  [$stdin, $stdout, $stderr].zip(streams).each { |stream, io| stream.reopen(io) }
  ENV.replace(request.fetch('env'))
  Dir.chdir(request.fetch('cwd'))
  ARGV.replace(request.fetch('argv'))
  $PROGRAM_NAME = RAKE_RB
  # A collection in the fork marks the whole preloaded heap, and each page it writes is copied from the server:
  # measured, a quarter of a call's CPU. Most calls end within a second; one that runs on (recordings:watch,
  # the importer's loop) gets its collector back after 2 s. What the call computes does not change.
  GC.disable
  Thread.new do
    sleep(2)
    GC.enable
  end
  at_exit { end_call($!) }
  connection.puts("pid #{Process.pid}")
  load RAKE_RB
end

# How the fork ends. Ruby's own exit runs its finalizers over the whole preloaded heap, and each page they write
# is copied from the server: measured, 57-72 ms of CPU a call, against 24 for this (docs/testing.md).
# Registered before the call runs, this handler runs after the call's own at_exit handlers and does what Ruby's
# exit would still do for the call: print an uncaught error as Ruby prints it, flush every open file, remove the
# call's Tempfiles, and end with the same status. An exception of a signal is left to Ruby, which ends the
# process by that signal.
def end_call(error)
  return if error.is_a?(SignalException)

  status = case error
           when nil then 0
           when SystemExit then error.status
           else
             $stderr.write(error.full_message(highlight: false))
             1
           end
  ObjectSpace.each_object(Tempfile, &:close!) if defined?(Tempfile)
  ObjectSpace.each_object(IO) do |io|
    io.flush unless io.closed?
  rescue IOError, SystemCallError
    nil # not open for writing, or its reader has gone: Ruby's exit would not report it either
  end
  exit!(status)
end

CALLS = Set.new # the pids of the calls running, ended with the server

# One connection, in a thread of its own: the request is read here, before the fork, so that what is read
# afterwards can only be the client going away.
def serve(server, connection)
  streams = Array.new(3) { connection.recv_io }
  request = JSON.parse(connection.gets)
  pid = fork do
    server.close
    run_call(connection, streams, request)
  end
  streams.each(&:close)
  CALLS << pid
  Thread.new do
    connection.read(1) # the client never writes after its request: this returns when it has gone
    Process.kill('KILL', pid) if CALLS.include?(pid)
  rescue IOError, SystemCallError
    nil
  end
  _, status = Process.wait2(pid)
  CALLS.delete(pid)
  connection.puts(status.signaled? ? "signal #{Signal.signame(status.termsig)}" : "exit #{status.exitstatus}")
rescue IOError, SystemCallError, SocketError, JSON::ParserError, TypeError
  nil # the client has gone, or sent no request
ensure
  connection.close
end

DIR = ARGV.fetch(0)
server = UNIXServer.new(File.join(DIR, 'rake.sock'))
Thread.new do
  $stdin.read
  CALLS.each { |pid| Process.kill('KILL', pid) rescue nil } # rubocop:disable Style/RescueModifier
  FileUtils.rm_rf(DIR)
  exit!(0)
end
$stdout.puts('ready')
$stdout.flush
loop do
  connection = server.accept
  Thread.new { serve(server, connection) }
end
