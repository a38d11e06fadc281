# frozen_string_literal: true

# `ruby rake.rb ARGS...` through the preloaded rakeServer.rb of this test process (its socket is "rakeServer" in
# the harness config, BBB_OVH_SCALELITE_CONFIG): the same call, the same streams and exit status, without
# loading the libraries again. Started with --disable-gems, it costs a few hundredths of a second. Without a
# server (none named, or gone), it runs rake.rb itself.
require 'json'
require 'socket'

RAKE_RB = File.join(__dir__, 'rake.rb')

def direct
  exec('ruby', RAKE_RB, *ARGV)
end

config = ENV['BBB_OVH_SCALELITE_CONFIG']
socket_path = config && File.exist?(config) ? JSON.parse(File.read(config))['rakeServer'] : nil
direct if socket_path.nil?
begin
  connection = UNIXSocket.new(socket_path)
rescue SystemCallError
  direct
end

[$stdin, $stdout, $stderr].each { |stream| connection.send_io(stream) }
connection.puts(JSON.generate({ 'argv' => ARGV, 'env' => ENV.to_h, 'cwd' => Dir.pwd }))
pid = connection.gets&.[](/\Apid (\d+)$/, 1)&.to_i
abort("rakeClient: #{socket_path} did not start the call") if pid.nil?
# What a signal to `ruby rake.rb` would do (e.g. SIGTERM, recordings:watch's graceful stop) reaches the call.
%w[TERM INT HUP QUIT USR1 USR2].each do |name|
  trap(name) { Process.kill(name, pid) rescue nil } # rubocop:disable Style/RescueModifier
end
case connection.gets
when /\Aexit (\d+)$/ then exit(Regexp.last_match(1).to_i)
when /\Asignal (\w+)$/
  signal = Regexp.last_match(1)
  trap(signal, 'DEFAULT')
  Process.kill(signal, Process.pid)
  sleep # the signal ends this process as it ended the call
else abort("rakeClient: #{socket_path} ended the call without its status")
end
