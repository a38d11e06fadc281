#!/usr/bin/ruby
# frozen_string_literal: true

# Test double of Scalelite's post_publish script, served by the fake wget and curl.
require 'optparse'
require 'yaml'

meeting_id = nil
OptionParser.new { |opts| opts.on('-m', '--meeting-id MEETING_ID') { |v| meeting_id = v } }.parse!
config = YAML.load_file(File.expand_path('../scalelite.yml', __dir__))
puts "would transfer #{meeting_id} to #{config['spool_dir']}"
